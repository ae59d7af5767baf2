#!/usr/bin/env python3
"""Generates tests/vectors/crypto/signature_vectors.json with pyca/cryptography
(an implementation independent of deno-ipsec): fixed test keys as PKCS#8/SPKI
DER, a message, and the deterministic signatures of each scheme (RSA PKCS#1
v1.5, RFC 6979 deterministic ECDSA with the curve's own hash, Ed25519/Ed448)
in DER and, for ECDSA, raw r || s. Run once; the output is committed.

    python3 tests/vectors/crypto/gen_signature_vectors.py > tests/vectors/crypto/signature_vectors.json
"""
import json
import cryptography
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, ed448, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

MSG = b"deno-ipsec signed octets: RealMessage1 | NonceRData | MACedIDForI"
H = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


def der(k):
    return k.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption()).hex()


def spki(k):
    return k.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo).hex()


out = {"source": f"pyca/cryptography {cryptography.__version__} (OpenSSL), gen_signature_vectors.py",
       "message": MSG.hex(), "keys": {}}

rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
sigs = {f"rsa-pkcs1-{h}": rsa_key.sign(MSG, padding.PKCS1v15(), H[h]).hex() for h in H}
out["keys"]["rsa2048"] = {"pkcs8": der(rsa_key), "spki": spki(rsa_key), "signatures": sigs}

for name, curve, h, n in [("p256", ec.SECP256R1(), "sha256", 32), ("p384", ec.SECP384R1(), "sha384", 48),
                          ("p521", ec.SECP521R1(), "sha512", 66)]:
    k = ec.generate_private_key(curve)
    s = k.sign(MSG, ec.ECDSA(H[h], deterministic_signing=True))
    r, ss = decode_dss_signature(s)
    out["keys"][name] = {"pkcs8": der(k), "spki": spki(k), "signatures": {
        f"ecdsa-{h}": s.hex(), f"ecdsa-{h}-raw": (r.to_bytes(n, "big") + ss.to_bytes(n, "big")).hex()}}

for name, mod in [("ed25519", ed25519.Ed25519PrivateKey), ("ed448", ed448.Ed448PrivateKey)]:
    k = mod.generate()
    out["keys"][name] = {"pkcs8": der(k), "spki": spki(k), "signatures": {name: k.sign(MSG).hex()}}

print(json.dumps(out, indent=2))
