#!/usr/bin/python3
"""Generates tests/vectors/ikev2/scapy_vectors.json with scapy's IKEv2 layer
(scapy.contrib.ikev2, Debian python3-scapy 2.5.0): an independent encoder whose
bytes tests/ikev2/payloads/scapy_vectors_test.ts decodes. Scapy computes all
lengths, counts and next-payload fields itself, except where scapy 2.5.0 has
bugs: IDi/IDr/CP lengths refer to a missing "load" field (we pass `length`),
and next_payload fields in a chain come out 0 or wrong (CP overloads 46), so
fix_chain() sets them from the RFC 7296 type numbers. Proposal trans_nb is
not computed and a Transform only carries its Key Length attribute when
length=12 is given, so both are passed explicitly. IPv6TrafficSelector's
default Selector Length is 20 (RFC 7296: 40), so length=40 is passed. A
Notify's length leaves out its SPI, so length=12 is passed for REKEY_SA.

Run: /usr/bin/python3 tests/vectors/ikev2/gen_scapy_vectors.py > tests/vectors/ikev2/scapy_vectors.json
"""
import json
from scapy.contrib.ikev2 import *  # noqa: F403

SPI_I = bytes.fromhex("0102030405060708")
SPI_R = bytes.fromhex("1112131415161718")
NONCE = bytes(range(32))
KE = bytes(range(64))

vectors = []

# RFC 7296 payload type numbers; scapy 2.5.0 leaves many next_payload fields 0
# or wrong in a chain, so they are set explicitly from this table.
TYPES = {
    IKEv2_payload_SA: 33, IKEv2_payload_KE: 34, IKEv2_payload_IDi: 35, IKEv2_payload_IDr: 36,
    IKEv2_payload_CERT_CRT: 37, IKEv2_payload_CERTREQ: 38, IKEv2_payload_AUTH: 39,
    IKEv2_payload_Nonce: 40, IKEv2_payload_Notify: 41, IKEv2_payload_VendorID: 43,
    IKEv2_payload_TSi: 44, IKEv2_payload_TSr: 45, IKEv2_payload_Encrypted: 46,
    IKEv2_payload_CP: 47, IKEv2_payload_Encrypted_Fragment: 53,
}


def fix_chain(pkt):
    layer = pkt
    while layer.payload and type(layer.payload) in TYPES:
        nxt = TYPES[type(layer.payload)]
        if type(layer) not in (IKEv2_payload_Encrypted, IKEv2_payload_Encrypted_Fragment):
            layer.next_payload = nxt
        layer = layer.payload
    if type(layer) not in (IKEv2_payload_Encrypted, IKEv2_payload_Encrypted_Fragment):
        layer.next_payload = 0


def add(name, pkt, note):
    fix_chain(pkt)
    vectors.append({"name": name, "hex": bytes(pkt).hex(), "note": note})


# IKE_SA_INIT request: SA(AES-CBC-256, PRF_HMAC_SHA2_256, AUTH_HMAC_SHA2_256_128, ECP_256),
# KE(19), Nonce, N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP),
# N(IKEV2_FRAGMENTATION_SUPPORTED), V
sa = IKEv2_payload_SA(prop=IKEv2_payload_Proposal(
    proposal=1, proto=1, trans_nb=4,
    trans=IKEv2_payload_Transform(transform_type=1, transform_id=12, key_length=256, length=12)
    / IKEv2_payload_Transform(transform_type=2, transform_id=5)
    / IKEv2_payload_Transform(transform_type=3, transform_id=12)
    / IKEv2_payload_Transform(transform_type=4, transform_id=19)))
pkt = IKEv2(init_SPI=SPI_I, resp_SPI=b"\0" * 8, exch_type=34, flags="Initiator", id=0) \
    / sa / IKEv2_payload_KE(group=19, load=KE) / IKEv2_payload_Nonce(load=NONCE) \
    / IKEv2_payload_Notify(type=16388, load=bytes([0xaa]) * 20) \
    / IKEv2_payload_Notify(type=16389, load=bytes([0xbb]) * 20) \
    / IKEv2_payload_Notify(type=16430) \
    / IKEv2_payload_VendorID(vendorID=b"strongSwan")
add("ike_sa_init_request", pkt, "scapy-built IKE_SA_INIT request")

# Two ESP proposals with 4-byte SPIs, AES-GCM-16 256 + ESN choices, then AES-CBC-128 + SHA1-96.
sa2 = IKEv2_payload_SA(prop=IKEv2_payload_Proposal(
    proposal=1, proto=3, SPIsize=4, trans_nb=3, SPI=bytes.fromhex("c0ffee01"),
    trans=IKEv2_payload_Transform(transform_type=1, transform_id=20, key_length=256, length=12)
    / IKEv2_payload_Transform(transform_type=5, transform_id=0)
    / IKEv2_payload_Transform(transform_type=5, transform_id=1))
    / IKEv2_payload_Proposal(
    proposal=2, proto=3, SPIsize=4, trans_nb=3, SPI=bytes.fromhex("c0ffee01"),
    trans=IKEv2_payload_Transform(transform_type=1, transform_id=12, key_length=128, length=12)
    / IKEv2_payload_Transform(transform_type=3, transform_id=2)
    / IKEv2_payload_Transform(transform_type=5, transform_id=0)))
tsi = IKEv2_payload_TSi(traffic_selector=[
    IPv4TrafficSelector(IP_protocol_ID=6, start_port=80, end_port=443,
                        starting_address_v4="10.1.0.0", ending_address_v4="10.1.255.255"),
    IPv6TrafficSelector(IP_protocol_ID=0, length=40, start_port=0, end_port=65535,
                        starting_address_v6="2001:db8::",
                        ending_address_v6="2001:db8::ffff:ffff:ffff:ffff")])
tsr = IKEv2_payload_TSr(traffic_selector=[
    IPv4TrafficSelector(IP_protocol_ID=17, start_port=500, end_port=500,
                        starting_address_v4="192.0.2.1", ending_address_v4="192.0.2.1")])
cp = IKEv2_payload_CP(CFGType=1, length=8 + 4 + 4 + 4 + 12, attributes=[
    ConfigurationAttribute(type=1),
    ConfigurationAttribute(type=3),
    ConfigurationAttribute(type=8),
    ConfigurationAttribute(type=13, value=bytes.fromhex("0a000000ffffff00")),
])
pkt = IKEv2(init_SPI=SPI_I, resp_SPI=SPI_R, exch_type=35, flags="Initiator", id=1) \
    / IKEv2_payload_IDi(IDtype=2, ID=b"moon.strongswan.org", length=8 + 19) \
    / IKEv2_payload_CERTREQ(cert_type=4, cert_data=bytes([0x11]) * 20 + bytes([0x22]) * 20) \
    / IKEv2_payload_IDr(IDtype=1, ID="192.0.2.7", length=12) \
    / IKEv2_payload_AUTH(auth_type=2, load=bytes([0x5a]) * 32) \
    / cp / sa2 / tsi / tsr \
    / IKEv2_payload_Notify(proto=3, SPIsize=4, SPI=bytes.fromhex("c0ffee02"), type=16393,
                           length=12)
add("ike_auth_cleartext", pkt,
    "scapy-built IKE_AUTH payload set (unencrypted, exercises the payload codecs)")

# IDi with an IPv6 address and CERT (X.509, 4) payload in an IKE_AUTH response.
pkt = IKEv2(init_SPI=SPI_I, resp_SPI=SPI_R, exch_type=35, flags="Response", id=1) \
    / IKEv2_payload_IDr(IDtype=5, ID="2001:db8::1", length=24) \
    / IKEv2_payload_CERT_CRT(cert_type=4, x509Cert=bytes.fromhex("3003020101")) \
    / IKEv2_payload_AUTH(auth_type=14, load=bytes.fromhex("0f300d06092a864886f70d01010b0500") + bytes(8))
add("ike_auth_response_cert", pkt, "scapy-built IDr(IPv6)/CERT/AUTH(method 14)")

# An SK payload (opaque body) carrying first inner payload IDi.
pkt = IKEv2(init_SPI=SPI_I, resp_SPI=SPI_R, exch_type=37, flags="Initiator", id=7) \
    / IKEv2_payload_Encrypted(next_payload=41, load=bytes(range(48)))
add("informational_sk", pkt, "scapy-built SK payload framing (body not real ciphertext)")

# SKF fragment 2 of 3 (non-first: next payload 0).
pkt = IKEv2(init_SPI=SPI_I, resp_SPI=SPI_R, exch_type=35, flags="Initiator", id=1) \
    / IKEv2_payload_Encrypted_Fragment(next_payload=0, frag_number=2, frag_total=3,
                                       load=bytes(range(40)))
add("ike_auth_skf", pkt, "scapy-built SKF fragment 2/3 framing")

print(json.dumps({"source": "scapy " + __import__("scapy").__version__ + " scapy.contrib.ikev2",
                  "vectors": vectors}, indent=1))
