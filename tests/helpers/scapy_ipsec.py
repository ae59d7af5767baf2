#!/usr/bin/python3
"""Independent ESP/AH oracle for the deno-ipsec tests, built on scapy.layers.ipsec.

Reads one JSON object {"cases": [...]} on stdin and writes {"results": [...]} on
stdout, one result per case, so a single process handles a whole batch.

Case fields:
  op           "decrypt" (verify+decrypt a packet we built) or
               "encrypt" (build a packet from an inner/plain IP packet)
  proto        "ESP" or "AH"
  spi, seq     integers (seq: low 32 bits, for "encrypt")
  crypt_algo, crypt_key (hex, incl. salt for AEADs), crypt_icv_size
  auth_algo, auth_key (hex)
  tunnel       null or {"src": "...", "dst": "..."} (IPv4 or IPv6 text)
  nat_t        null or {"sport": 4500, "dport": 4500}
  esn_en, esn  ESN enable and high 32 bits
  packet       hex of the whole IP packet (outer for decrypt, inner/plain for encrypt)

Result: {"ok": true, "packet": hex} or {"ok": false, "error": "..."}.
"""
import json
import sys

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import AH, ESP, SecurityAssociation
from scapy.compat import raw


def ip_class(raw_bytes):
    return IP if raw_bytes[0] >> 4 == 4 else IPv6


def make_sa(c):
    proto = ESP if c["proto"] == "ESP" else AH
    tunnel = None
    if c.get("tunnel"):
        t = c["tunnel"]
        tunnel = IPv6(src=t["src"], dst=t["dst"]) if ":" in t["src"] else IP(src=t["src"], dst=t["dst"])
    nat_t = None
    if c.get("nat_t"):
        nat_t = UDP(sport=c["nat_t"]["sport"], dport=c["nat_t"]["dport"])
    kw = dict(
        spi=c["spi"],
        seq_num=c.get("seq", 1),
        tunnel_header=tunnel,
        nat_t_header=nat_t,
        esn_en=c.get("esn_en", False),
        esn=c.get("esn", 0),
    )
    if proto is ESP:
        kw["crypt_algo"] = c.get("crypt_algo") or "NULL"
        kw["crypt_key"] = bytes.fromhex(c.get("crypt_key") or "")
        if c.get("crypt_icv_size"):
            kw["crypt_icv_size"] = c["crypt_icv_size"]
    kw["auth_algo"] = c.get("auth_algo") or "NULL"
    kw["auth_key"] = bytes.fromhex(c.get("auth_key") or "")
    return SecurityAssociation(proto, **kw)


def run(c):
    sa = make_sa(c)
    data = bytes.fromhex(c["packet"])
    pkt = ip_class(data)(data)
    if c["op"] == "decrypt":
        if c.get("nat_t"):
            # Decapsulate RFC 3948 like a kernel does: check the UDP header, then
            # hand scapy the IP packet with ESP directly behind the IP header.
            udp = pkt[UDP]
            if udp.dport != c["nat_t"]["dport"] or udp.sport != c["nat_t"]["sport"]:
                raise ValueError("wrong UDP ports %d/%d" % (udp.sport, udp.dport))
            if udp.len != 8 + len(raw(udp.payload)):
                raise ValueError("bad UDP length")
            esp_bytes = raw(udp.payload)
            under = udp.underlayer
            under.remove_payload()
            if pkt.version == 4:
                under.proto = 50
                del pkt.len
                del pkt.chksum
            else:
                under.nh = 50
                del pkt.plen
            pkt = pkt.__class__(raw(pkt / ESP(esp_bytes)))
        out = sa.decrypt(pkt)
        return raw(out)
    out = sa.encrypt(pkt, esn_en=c.get("esn_en", False), esn=c.get("esn", 0))
    return raw(out)


def main():
    req = json.load(sys.stdin)
    results = []
    for c in req["cases"]:
        try:
            results.append({"ok": True, "packet": run(c).hex()})
        except Exception as e:  # report per case, keep going
            results.append({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
