#!/usr/bin/python3
# Regenerate with: /usr/bin/python3 tests/vectors/dataplane/gso.py > tests/vectors/dataplane/gso.json &&
#   deno fmt tests/vectors/dataplane/gso.json
# TUN offload vectors for lib/dataplane/offload.ts, built with scapy: a TUN
# frame (struct virtio_net_hdr + packet, as the kernel hands it to us with
# TSO/checksum offload on) and the packets a NIC doing TSO would put on the
# wire. Every length and checksum of the expected packets is computed by
# scapy; the super-packet's TCP checksum field holds junk (the kernel leaves
# a pseudo-header sum there), so a segmenter that keeps it fails.
import json, struct
from scapy.all import IP, IPv6, TCP, UDP, Raw, raw, IPOption_Router_Alert
from scapy.all import IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, PadN

FIN, PSH, CWR = 0x01, 0x08, 0x80
NEEDS_CSUM = 1

def vnet(flags, gso_type, hdr_len, gso_size, csum_start, csum_offset):
    return struct.pack("<BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)

def payload(n, seed):
    return bytes(((i * 7 + seed) * 13) & 0xff for i in range(n))

cases = []

def pseudo_partial(pkt_bytes, v6, proto, l4):
    # What the kernel leaves in the checksum field for CHECKSUM_PARTIAL: the
    # folded pseudo-header sum, not complemented.
    if v6:
        addrs = pkt_bytes[8:40]
    else:
        addrs = pkt_bytes[12:20]
    s = sum(struct.unpack("!%dH" % (len(addrs) // 2), addrs))
    s += proto + (len(pkt_bytes) - l4)
    while s > 0xffff:
        s = (s & 0xffff) + (s >> 16)
    return s

def gso_case(name, v6, ip_kw, tcp_kw, n, gso_size, max_packet, gso_type=None, ext=None):
    data = payload(n, len(cases))
    def ip_layer(**kw):
        l = (IPv6 if v6 else IP)(**kw)
        return l / ext() if ext else l
    ipl = ip_layer(**ip_kw)
    t = TCP(chksum=0xdead, **tcp_kw)
    sup = raw(ipl / t / Raw(data))
    l4 = 40 + (len(raw(ext())) if ext else 0) if v6 else (sup[0] & 15) * 4
    thl = (sup[l4 + 12] >> 4) * 4
    hdr = l4 + thl
    mss = min(gso_size, max_packet - hdr)
    gt = gso_type if gso_type is not None else (4 if v6 else 1)
    frame = vnet(NEEDS_CSUM, gt, hdr, gso_size, l4, 16) + sup
    chunks = [data[i:i + mss] for i in range(0, n, mss)] or [b""]
    segs = []
    for i, c in enumerate(chunks):
        f = int(t.flags)
        if i < len(chunks) - 1:
            f &= ~(FIN | PSH)
        if i > 0:
            f &= ~CWR
        kw = dict(tcp_kw)
        kw["flags"] = f
        kw["seq"] = (tcp_kw.get("seq", 0) + i * mss) % 2**32
        ik = dict(ip_kw)
        if not v6:
            ik["id"] = (ip_kw.get("id", 1) + i) & 0xffff
        segs.append(raw(ip_layer(**ik) / TCP(**kw) / Raw(c)).hex())
    # GRO, the other way: the segments written back to a TUN. A run of
    # segments joins when each is IPv4 without options or IPv6, has payload
    # and flags ACK (+PSH), and the previous one was full-sized (the first's
    # payload) without PSH; a run of 2+ is one super-packet built by scapy
    # whose TCP checksum field holds the folded pseudo-header sum
    # (CHECKSUM_PARTIAL); a run of one is the segment alone.
    pk = [(IPv6 if v6 else IP)(bytes.fromhex(x)) for x in segs]
    def eligible(p):
        return ((int(p[TCP].flags) & ~PSH) == 0x10 and len(p[TCP].payload) > 0
                and (p.nh == 6 if v6 else p.ihl == 5))
    runs, cur = [], []
    for p in pk:
        if cur and eligible(p) and eligible(cur[0]):
            first, last = len(cur[0][TCP].payload), cur[-1]
            if (len(last[TCP].payload) == first and not int(last[TCP].flags) & PSH
                    and len(p[TCP].payload) <= first):
                cur.append(p)
                continue
        if cur:
            runs.append(cur)
        cur = [p]
    runs.append(cur)
    gro = []
    for r in runs:
        if len(r) == 1:
            gro.append((vnet(0, 0, 0, 0, 0, 0) + raw(r[0])).hex())
            continue
        f = int(r[0][TCP].flags) | (PSH if any(int(p[TCP].flags) & PSH for p in r) else 0)
        data = b"".join(bytes(p[TCP].payload) for p in r)
        kw = dict(tcp_kw, flags=f, seq=r[0][TCP].seq)
        ik = dict(ip_kw)
        if not v6:
            ik["id"] = r[0].id
        sp = raw(ip_layer(**ik) / TCP(**kw) / Raw(data))
        b = bytearray(sp)
        struct.pack_into("!H", b, l4 + 16, pseudo_partial(sp, v6, 6, l4))
        gro.append((vnet(NEEDS_CSUM, 4 if v6 else 1, hdr, len(r[0][TCP].payload), l4, 16) + bytes(b)).hex())
    cases.append({"name": name, "maxPacket": max_packet, "frame": frame.hex(), "segments": segs,
                  "gro": gro})

ts = [("NOP", None), ("NOP", None), ("Timestamp", (123456, 654321))]
gso_case("IPv4, timestamps, PSH only on the last of 4, odd last segment",
         False, dict(src="10.1.0.1", dst="10.2.0.1", id=0x1234, flags="DF", tos=0x10, ttl=63),
         dict(sport=40000, dport=5201, seq=1000, ack=77, flags="PA", window=502, options=ts),
         5000, 1348, 1400)
gso_case("IPv4, FIN+PSH+CWR, sequence wraps, odd lengths",
         False, dict(src="10.1.0.1", dst="10.2.0.1", id=0xfffe, flags="DF"),
         dict(sport=1234, dport=80, seq=0xfffffc00, ack=0x01020304, flags="FPAC", window=65535),
         4001, 1000, 1400)
gso_case("IPv4 with an IP option (ihl 6)",
         False, dict(src="192.168.7.9", dst="10.2.0.77", id=7, options=[IPOption_Router_Alert()]),
         dict(sport=22, dport=50000, seq=42, ack=43, flags="A", window=1000),
         1201, 500, 1400)
gso_case("IPv6, PSH on the last, traffic class and flow label kept",
         True, dict(src="fd00:1::1", dst="fd00:2::1", tc=0x28, fl=0x12345, hlim=64),
         dict(sport=40001, dport=5201, seq=5, ack=6, flags="PA", window=300, options=ts),
         3001, 1208, 1400)
gso_case("IPv6, FIN, payload an exact multiple of gso_size",
         True, dict(src="2001:db8::1", dst="2001:db8::2"),
         dict(sport=443, dport=40002, seq=0x7fffffff, ack=1, flags="FA", window=100),
         2000, 1000, 1400)
gso_case("IPv4, gso_size above the TUN MTU budget: segments cut to fit 1400",
         False, dict(src="10.1.0.1", dst="10.2.0.1", id=100, flags="DF"),
         dict(sport=40003, dport=5201, seq=9, ack=10, flags="PA", window=64),
         4000, 1460, 1400)
gso_case("IPv6 with ECN flag in gso_type, CWR on the first only",
         True, dict(src="fd00:1::1", dst="fd00:2::1"),
         dict(sport=1, dport=2, seq=3, ack=4, flags="PAC", window=5),
         2500, 1200, 1400, gso_type=4 | 0x80)
gso_case("IPv6 with hop-by-hop and destination options headers, copied into every segment",
         True, dict(src="fd00:1::1", dst="fd00:2::1"),
         dict(sport=7, dport=8, seq=100, ack=200, flags="PA", window=50),
         3000, 1200, 1400,
         ext=lambda: IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0" * 4)]) /
             IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\1" * 12)]))
gso_case("IPv4, one segment (payload below gso_size)",
         False, dict(src="10.1.0.1", dst="10.2.0.1", id=3, flags="DF"),
         dict(sport=5, dport=6, seq=7, ack=8, flags="PA", window=9),
         333, 1348, 1400)

def csum_case(name, pkt, v6, proto, field_off):
    want = raw(pkt)
    l4 = 40 if v6 else (want[0] & 15) * 4
    b = bytearray(want)
    struct.pack_into("!H", b, l4 + field_off, pseudo_partial(want, v6, proto, l4))
    frame = vnet(NEEDS_CSUM, 0, 0, 0, l4, field_off) + bytes(b)
    cases.append({"name": name, "maxPacket": 1400, "frame": frame.hex(), "segments": [want.hex()],
                  "gro": [(vnet(0, 0, 0, 0, 0, 0) + want).hex()]})

csum_case("NEEDS_CSUM, UDP over IPv4, odd length",
          IP(src="10.1.0.1", dst="10.2.0.1") / UDP(sport=5353, dport=53) / Raw(payload(101, 1)),
          False, 17, 6)
csum_case("NEEDS_CSUM, TCP over IPv6",
          IPv6(src="fd00:1::1", dst="fd00:2::1") / TCP(sport=9, dport=10, flags="PA", seq=1, ack=2)
          / Raw(payload(1000, 2)), True, 6, 16)
plain = raw(IP(src="10.1.0.1", dst="10.2.0.1") / UDP(sport=1, dport=2) / Raw(b"hello"))
cases.append({"name": "no flags, no GSO: passed through unchanged", "maxPacket": 1400,
              "frame": (vnet(0, 0, 0, 0, 0, 0) + plain).hex(), "segments": [plain.hex()],
              "gro": [(vnet(0, 0, 0, 0, 0, 0) + plain).hex()]})

print(json.dumps({"source": "scapy (tests/vectors/dataplane/gso.py)", "cases": cases}, indent=1))
