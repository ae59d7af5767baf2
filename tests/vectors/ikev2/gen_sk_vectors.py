#!/usr/bin/python3
"""Generates tests/vectors/ikev2/sk_vectors.json: SK-protected IKEv2 messages
sealed by python `cryptography` (Debian python3-cryptography 38, OpenSSL),
independently of our code, following RFC 7296 section 3.14 (AES-CBC + HMAC /
AES-CMAC-96, ICV over header..ciphertext), RFC 5282 (AES-GCM: nonce = salt ||
IV, AAD = IKE header .. SK generic header; AES-CCM the same with a 3-byte
salt, so an 11-byte nonce), RFC 7634 (ChaCha20-Poly1305, same layout) and
RFC 5930 (AES-CTR + HMAC: SK_e = key || 4-byte nonce, 8-byte IV, counter
block nonce || IV || 00000001 per RFC 3686 section 4, ICV as for CBC).
Padding: zero bytes, the minimum that aligns to the block size (16 for CBC,
1 for AEAD and CTR), then the Pad Length octet.

Inner payloads (hand-built from the RFC 7296 diagrams):
  N(INITIAL_CONTACT)  = 2a 00 0008 | 00 00 4000       (next: Delete)
  D(ESP, 1 SPI)       = 00 00 000c | 03 04 0001 | 01020304

Run: /usr/bin/python3 tests/vectors/ikev2/gen_sk_vectors.py > tests/vectors/ikev2/sk_vectors.json
"""
import hashlib
import hmac
import json
import struct

import cryptography
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

INNER = bytes.fromhex("2a000008" "00004000" "0000000c" "03040001" "01020304")
SPI_I = 0x0102030405060708
SPI_R = 0x1112131415161718
MSG_ID = 5


def header(total_len):
    # SPIi, SPIr, next=SK(46), version 2.0, INFORMATIONAL(37), flags I(0x08), msg id, length
    return struct.pack(">QQBBBBII", SPI_I, SPI_R, 46, 0x20, 37, 0x08, MSG_ID, total_len)


def sk_header(body_len):
    return struct.pack(">BBH", 41, 0, 4 + body_len)  # first inner payload: Notify


def pad(inner, block):
    pad_len = (block - (len(inner) + 1) % block) % block
    return inner + bytes(pad_len) + bytes([pad_len])


def key(n, start):
    return bytes((start + i) & 0xFF for i in range(n))


INTEG = {  # IANA id: (name, key length, icv length, mac function)
    2: ("HMAC_SHA1_96", 20, 12, lambda k, d: hmac.new(k, d, hashlib.sha1).digest()),
    8: ("AES_CMAC_96", 16, 12, None),
    12: ("HMAC_SHA2_256_128", 32, 16, lambda k, d: hmac.new(k, d, hashlib.sha256).digest()),
    13: ("HMAC_SHA2_384_192", 48, 24, lambda k, d: hmac.new(k, d, hashlib.sha384).digest()),
    14: ("HMAC_SHA2_512_256", 64, 32, lambda k, d: hmac.new(k, d, hashlib.sha512).digest()),
}


def mac(integ_id, k, data):
    if integ_id == 8:
        c = cmac.CMAC(algorithms.AES(k))
        c.update(data)
        return c.finalize()
    return INTEG[integ_id][3](k, data)


vectors = []


def cbc(key_bits, integ_id):
    ek = key(key_bits // 8, 0x10)
    name, alen, icvlen, _ = INTEG[integ_id]
    ak = key(alen, 0x60)
    iv = key(16, 0xA0)
    padded = pad(INNER, 16)
    enc = Cipher(algorithms.AES(ek), modes.CBC(iv)).encryptor()
    ct = enc.update(padded) + enc.finalize()
    body_len = 16 + len(ct) + icvlen
    prefix = header(28 + 4 + body_len) + sk_header(body_len)
    icv = mac(integ_id, ak, prefix + iv + ct)[:icvlen]
    vectors.append({
        "name": f"AES-CBC-{key_bits} + {name}", "encrId": 12, "keyBits": key_bits,
        "integId": integ_id, "skE": ek.hex(), "skA": ak.hex(), "iv": iv.hex(),
        "message": (prefix + iv + ct + icv).hex(),
    })


def ctr(key_bits, integ_id):
    ek = key(key_bits // 8 + 4, 0x40)  # key || 4-byte nonce (RFC 5930 section 4)
    k, nonce = ek[:-4], ek[-4:]
    name, alen, icvlen, _ = INTEG[integ_id]
    ak = key(alen, 0x70)
    iv = bytes.fromhex("0011223344556677")
    padded = pad(INNER, 1)
    enc = Cipher(algorithms.AES(k), modes.CTR(nonce + iv + b"\x00\x00\x00\x01")).encryptor()
    ct = enc.update(padded) + enc.finalize()
    body_len = 8 + len(ct) + icvlen
    prefix = header(28 + 4 + body_len) + sk_header(body_len)
    icv = mac(integ_id, ak, prefix + iv + ct)[:icvlen]
    vectors.append({
        "name": f"AES-CTR-{key_bits} + {name}", "encrId": 13, "keyBits": key_bits,
        "integId": integ_id, "skE": ek.hex(), "skA": ak.hex(), "iv": iv.hex(),
        "message": (prefix + iv + ct + icv).hex(),
    })


def aead(name, encr_id, key_bits, icvlen):
    salt_len = 3 if encr_id in (14, 15, 16) else 4  # RFC 5282: CCM salt 3 bytes, GCM 4
    ek = key(key_bits // 8 + salt_len, 0x30)  # key || salt
    k, salt = ek[:-salt_len], ek[-salt_len:]
    iv = bytes.fromhex("0011223344556677")
    padded = pad(INNER, 1)
    body_len = 8 + len(padded) + icvlen
    prefix = header(28 + 4 + body_len) + sk_header(body_len)
    if encr_id == 28:
        sealed = ChaCha20Poly1305(k).encrypt(salt + iv, padded, prefix)
    elif encr_id in (14, 15, 16):
        sealed = AESCCM(k, tag_length=icvlen).encrypt(salt + iv, padded, prefix)
    else:
        sealed = AESGCM(k).encrypt(salt + iv, padded, prefix)
        sealed = sealed[:len(padded)] + sealed[len(padded):][:icvlen]  # truncated GCM tag
    vectors.append({
        "name": name, "encrId": encr_id, "keyBits": key_bits, "skE": ek.hex(), "iv": iv.hex(),
        "message": (prefix + iv + sealed).hex(),
    })


cbc(128, 2)
cbc(256, 12)
cbc(192, 13)
cbc(256, 14)
cbc(128, 8)
aead("AES-GCM-128 ICV16", 20, 128, 16)
aead("AES-GCM-256 ICV16", 20, 256, 16)
aead("AES-GCM-192 ICV12", 19, 192, 12)
aead("AES-GCM-256 ICV8", 18, 256, 8)
aead("ChaCha20-Poly1305", 28, 256, 16)
ctr(128, 12)
ctr(192, 2)
ctr(256, 14)
aead("AES-CCM-128 ICV16", 16, 128, 16)
aead("AES-CCM-192 ICV12", 15, 192, 12)
aead("AES-CCM-256 ICV8", 14, 256, 8)

print(json.dumps({
    "source": "python3-cryptography " + cryptography.__version__ + " via gen_sk_vectors.py",
    "inner": INNER.hex(), "spiI": f"{SPI_I:016x}", "spiR": f"{SPI_R:016x}", "messageId": MSG_ID,
    "vectors": vectors,
}, indent=1))
