import assert from "node:assert/strict";
import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  getDiffieHellman,
} from "node:crypto";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";
import {
  createKeyExchange,
  createKeyExchangeFromPrivate,
  generatePrivateKey,
} from "../../lib/crypto/key_exchange.ts";
import {
  MODP_EXPONENT_BYTES,
  MODP_GENERATOR,
  MODP_PRIMES,
  WEAK_MODP_PRIMES,
} from "../../lib/crypto/modp_groups.ts";
import { keInfo } from "../../lib/crypto/transforms.ts";
import { CryptoError } from "../../lib/crypto/types.ts";
import { runPythonJson } from "./_python.ts";

/** Parses "0x36, 0x51, ..." C array bodies (as printed in strongSwan) and plain hex. */
function h(s: string): Uint8Array {
  return fromHex(s.replace(/\/\*[^*]*\*\//g, "").replace(/0x/g, "").replace(/[,\s]/g, ""));
}

/** A deterministic "RNG" for tests: bytes counting up from `start`. */
function countingRng(start: number) {
  let n = start;
  return (len: number) => Uint8Array.from({ length: len }, () => n++ & 0xff);
}

interface DhVector {
  name: string;
  group: number;
  privI: Uint8Array;
  privR: Uint8Array;
  pubI: Uint8Array;
  pubR: Uint8Array;
  shared: Uint8Array;
}

/** Every way the curves can run: the per-step default, and each backend pinned. */
const EC_BACKENDS: { backend?: "node" | "noble" }[] = [{}, { backend: "node" }, {
  backend: "noble",
}];

function checkVector(v: DhVector): void {
  for (const opts of EC_BACKENDS) {
    const i = createKeyExchangeFromPrivate(v.group, v.privI, opts);
    const r = createKeyExchangeFromPrivate(v.group, v.privR, opts);
    const what = `${v.name} [${opts.backend ?? "default"}]`;
    assert.equal(toHex(i.publicKey), toHex(v.pubI), `${what} pub_i`);
    assert.equal(toHex(r.publicKey), toHex(v.pubR), `${what} pub_r`);
    assert.equal(toHex(i.computeSharedSecret(v.pubR)), toHex(v.shared), `${what} shared (i)`);
    assert.equal(toHex(r.computeSharedSecret(v.pubI)), toHex(v.shared), `${what} shared (r)`);
  }
  const i = createKeyExchangeFromPrivate(v.group, v.privI);
  assert.equal(i.publicKey.length, keInfo(v.group)!.publicKeyLength);
  assert.equal(v.shared.length, keInfo(v.group)!.sharedSecretLength);
}

// ---------------------------------------------------------------------------
// ECP. Source: RFC 5903 section 8.1 (ECP-256; KE data = gx || gy, g^ir = x
// only), and RFC 5114 appendix A.6-A.8 (groups 19/20/21) as reproduced in
// strongSwan src/libstrongswan/plugins/test_vectors/test_vectors/ecp.c
// (seed = private i || private r; public values in IKEv2 x || y form).
// ---------------------------------------------------------------------------
const ECP_VECTORS: DhVector[] = [
  {
    name: "RFC 5903 8.1 ECP-256",
    group: 19,
    privI: h("C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433"),
    privR: h("C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53"),
    pubI: h(
      "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180" +
        "5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3",
    ),
    pubR: h(
      "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63" +
        "56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB",
    ),
    shared: h("D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE"),
  },
  {
    name: "RFC 5114 A.6 group 19",
    group: 19,
    privI: h(`0x81, 0x42, 0x64, 0x14, 0x5f, 0x2f, 0x56, 0xf2, 0xe9, 0x6a,
		0x8e, 0x33, 0x7a, 0x12, 0x84, 0x99, 0x3f, 0xaf, 0x43, 0x2a,
		0x5a, 0xbc, 0xe5, 0x9e, 0x86, 0x7b, 0x72, 0x91, 0xd5, 0x07,
		0xa3, 0xaf`),
    privR: h(`0x2c, 0xe1, 0x78, 0x8e, 0xc1, 0x97, 0xe0, 0x96, 0xdb, 0x95,
		0xa2, 0x00, 0xcc, 0x0a, 0xb2, 0x6a, 0x19, 0xce, 0x6b, 0xcc,
		0xad, 0x56, 0x2b, 0x8e, 0xee, 0x1b, 0x59, 0x37, 0x61, 0xcf,
		0x7f, 0x41`),
    pubI: h(`0x2a, 0xf5, 0x02, 0xf3, 0xbe, 0x89, 0x52, 0xf2, 0xc9, 0xb5,
		0xa8, 0xd4, 0x16, 0x0d, 0x09, 0xe9, 0x71, 0x65, 0xbe, 0x50,
		0xbc, 0x42, 0xae, 0x4a, 0x5e, 0x8d, 0x3b, 0x4b, 0xa8, 0x3a,
		0xeb, 0x15, 0xeb, 0x0f, 0xaf, 0x4c, 0xa9, 0x86, 0xc4, 0xd3,
		0x86, 0x81, 0xa0, 0xf9, 0x87, 0x2d, 0x79, 0xd5, 0x67, 0x95,
		0xbd, 0x4b, 0xff, 0x6e, 0x6d, 0xe3, 0xc0, 0xf5, 0x01, 0x5e,
		0xce, 0x5e, 0xfd, 0x85`),
    pubR: h(`0xb1, 0x20, 0xde, 0x4a, 0xa3, 0x64, 0x92, 0x79, 0x53, 0x46,
		0xe8, 0xde, 0x6c, 0x2c, 0x86, 0x46, 0xae, 0x06, 0xaa, 0xea,
		0x27, 0x9f, 0xa7, 0x75, 0xb3, 0xab, 0x07, 0x15, 0xf6, 0xce,
		0x51, 0xb0, 0x9f, 0x1b, 0x7e, 0xec, 0xe2, 0x0d, 0x7b, 0x5e,
		0xd8, 0xec, 0x68, 0x5f, 0xa3, 0xf0, 0x71, 0xd8, 0x37, 0x27,
		0x02, 0x70, 0x92, 0xa8, 0x41, 0x13, 0x85, 0xc3, 0x4d, 0xde,
		0x57, 0x08, 0xb2, 0xb6`),
    shared: h(`0xdd, 0x0f, 0x53, 0x96, 0x21, 0x9d, 0x1e, 0xa3, 0x93, 0x31,
		0x04, 0x12, 0xd1, 0x9a, 0x08, 0xf1, 0xf5, 0x81, 0x1e, 0x9d,
		0xc8, 0xec, 0x8e, 0xea, 0x7f, 0x80, 0xd2, 0x1c, 0x82, 0x0c,
		0x27, 0x88`),
  },
  {
    name: "RFC 5114 A.7 group 20",
    group: 20,
    privI: h(`0xd2, 0x73, 0x35, 0xea, 0x71, 0x66, 0x4a, 0xf2, 0x44, 0xdd,
		0x14, 0xe9, 0xfd, 0x12, 0x60, 0x71, 0x5d, 0xfd, 0x8a, 0x79,
		0x65, 0x57, 0x1c, 0x48, 0xd7, 0x09, 0xee, 0x7a, 0x79, 0x62,
		0xa1, 0x56, 0xd7, 0x06, 0xa9, 0x0c, 0xbc, 0xb5, 0xdf, 0x29,
		0x86, 0xf0, 0x5f, 0xea, 0xdb, 0x93, 0x76, 0xf1`),
    privR: h(`0x52, 0xd1, 0x79, 0x1f, 0xdb, 0x4b, 0x70, 0xf8, 0x9c, 0x0f,
		0x00, 0xd4, 0x56, 0xc2, 0xf7, 0x02, 0x3b, 0x61, 0x25, 0x26,
		0x2c, 0x36, 0xa7, 0xdf, 0x1f, 0x80, 0x23, 0x11, 0x21, 0xcc,
		0xe3, 0xd3, 0x9b, 0xe5, 0x2e, 0x00, 0xc1, 0x94, 0xa4, 0x13,
		0x2c, 0x4a, 0x6c, 0x76, 0x8b, 0xcd, 0x94, 0xd2`),
    pubI: h(`0x79, 0x31, 0x48, 0xf1, 0x78, 0x76, 0x34, 0xd5, 0xda, 0x4c,
		0x6d, 0x90, 0x74, 0x41, 0x7d, 0x05, 0xe0, 0x57, 0xab, 0x62,
		0xf8, 0x20, 0x54, 0xd1, 0x0e, 0xe6, 0xb0, 0x40, 0x3d, 0x62,
		0x79, 0x54, 0x7e, 0x6a, 0x8e, 0xa9, 0xd1, 0xfd, 0x77, 0x42,
		0x7d, 0x01, 0x6f, 0xe2, 0x7a, 0x8b, 0x8c, 0x66, 0xc6, 0xc4,
		0x12, 0x94, 0x33, 0x1d, 0x23, 0xe6, 0xf4, 0x80, 0xf4, 0xfb,
		0x4c, 0xd4, 0x05, 0x04, 0xc9, 0x47, 0x39, 0x2e, 0x94, 0xf4,
		0xc3, 0xf0, 0x6b, 0x8f, 0x39, 0x8b, 0xb2, 0x9e, 0x42, 0x36,
		0x8f, 0x7a, 0x68, 0x59, 0x23, 0xde, 0x3b, 0x67, 0xba, 0xce,
		0xd2, 0x14, 0xa1, 0xa1, 0xd1, 0x28`),
    pubR: h(`0x5c, 0xd4, 0x2a, 0xb9, 0xc4, 0x1b, 0x53, 0x47, 0xf7, 0x4b,
		0x8d, 0x4e, 0xfb, 0x70, 0x8b, 0x3d, 0x5b, 0x36, 0xdb, 0x65,
		0x91, 0x53, 0x59, 0xb4, 0x4a, 0xbc, 0x17, 0x64, 0x7b, 0x6b,
		0x99, 0x99, 0x78, 0x9d, 0x72, 0xa8, 0x48, 0x65, 0xae, 0x2f,
		0x22, 0x3f, 0x12, 0xb5, 0xa1, 0xab, 0xc1, 0x20, 0xe1, 0x71,
		0x45, 0x8f, 0xea, 0xa9, 0x39, 0xaa, 0xa3, 0xa8, 0xbf, 0xac,
		0x46, 0xb4, 0x04, 0xbd, 0x8f, 0x6d, 0x5b, 0x34, 0x8c, 0x0f,
		0xa4, 0xd8, 0x0c, 0xec, 0xa1, 0x63, 0x56, 0xca, 0x93, 0x32,
		0x40, 0xbd, 0xe8, 0x72, 0x34, 0x15, 0xa8, 0xec, 0xe0, 0x35,
		0xb0, 0xed, 0xf3, 0x67, 0x55, 0xde`),
    shared: h(`0x5e, 0xa1, 0xfc, 0x4a, 0xf7, 0x25, 0x6d, 0x20, 0x55, 0x98,
		0x1b, 0x11, 0x05, 0x75, 0xe0, 0xa8, 0xca, 0xe5, 0x31, 0x60,
		0x13, 0x7d, 0x90, 0x4c, 0x59, 0xd9, 0x26, 0xeb, 0x1b, 0x84,
		0x56, 0xe4, 0x27, 0xaa, 0x8a, 0x45, 0x40, 0x88, 0x4c, 0x37,
		0xde, 0x15, 0x9a, 0x58, 0x02, 0x8a, 0xbc, 0x0e`),
  },
  {
    name: "RFC 5114 A.8 group 21",
    group: 21,
    privI: h(`0x01, 0x13, 0xf8, 0x2d, 0xa8, 0x25, 0x73, 0x5e, 0x3d, 0x97,
		0x27, 0x66, 0x83, 0xb2, 0xb7, 0x42, 0x77, 0xba, 0xd2, 0x73,
		0x35, 0xea, 0x71, 0x66, 0x4a, 0xf2, 0x43, 0x0c, 0xc4, 0xf3,
		0x34, 0x59, 0xb9, 0x66, 0x9e, 0xe7, 0x8b, 0x3f, 0xfb, 0x9b,
		0x86, 0x83, 0x01, 0x5d, 0x34, 0x4d, 0xcb, 0xfe, 0xf6, 0xfb,
		0x9a, 0xf4, 0xc6, 0xc4, 0x70, 0xbe, 0x25, 0x45, 0x16, 0xcd,
		0x3c, 0x1a, 0x1f, 0xb4, 0x73, 0x62`),
    privR: h(`0x00, 0xce, 0xe3, 0x48, 0x0d, 0x86, 0x45, 0xa1, 0x7d, 0x24,
		0x9f, 0x27, 0x76, 0xd2, 0x8b, 0xae, 0x61, 0x69, 0x52, 0xd1,
		0x79, 0x1f, 0xdb, 0x4b, 0x70, 0xf7, 0xc3, 0x37, 0x87, 0x32,
		0xaa, 0x1b, 0x22, 0x92, 0x84, 0x48, 0xbc, 0xd1, 0xdc, 0x24,
		0x96, 0xd4, 0x35, 0xb0, 0x10, 0x48, 0x06, 0x6e, 0xbe, 0x4f,
		0x72, 0x90, 0x3c, 0x36, 0x1b, 0x1a, 0x9d, 0xc1, 0x19, 0x3d,
		0xc2, 0xc9, 0xd0, 0x89, 0x1b, 0x96`),
    pubI: h(`0x01, 0xeb, 0xb3, 0x4d, 0xd7, 0x57, 0x21, 0xab, 0xf8, 0xad,
		0xc9, 0xdb, 0xed, 0x17, 0x88, 0x9c, 0xbb, 0x97, 0x65, 0xd9,
		0x0a, 0x7c, 0x60, 0xf2, 0xce, 0xf0, 0x07, 0xbb, 0x0f, 0x2b,
		0x26, 0xe1, 0x48, 0x81, 0xfd, 0x44, 0x42, 0xe6, 0x89, 0xd6,
		0x1c, 0xb2, 0xdd, 0x04, 0x6e, 0xe3, 0x0e, 0x3f, 0xfd, 0x20,
		0xf9, 0xa4, 0x5b, 0xbd, 0xf6, 0x41, 0x3d, 0x58, 0x3a, 0x2d,
		0xbf, 0x59, 0x92, 0x4f, 0xd3, 0x5c, 0x00, 0xf6, 0xb6, 0x32,
		0xd1, 0x94, 0xc0, 0x38, 0x8e, 0x22, 0xd8, 0x43, 0x7e, 0x55,
		0x8c, 0x55, 0x2a, 0xe1, 0x95, 0xad, 0xfd, 0x15, 0x3f, 0x92,
		0xd7, 0x49, 0x08, 0x35, 0x1b, 0x2f, 0x8c, 0x4e, 0xda, 0x94,
		0xed, 0xb0, 0x91, 0x6d, 0x1b, 0x53, 0xc0, 0x20, 0xb5, 0xee,
		0xca, 0xed, 0x1a, 0x5f, 0xc3, 0x8a, 0x23, 0x3e, 0x48, 0x30,
		0x58, 0x7b, 0xb2, 0xee, 0x34, 0x89, 0xb3, 0xb4, 0x2a, 0x5a,
		0x86, 0xa4`),
    pubR: h(`0x01, 0x0e, 0xbf, 0xaf, 0xc6, 0xe8, 0x5e, 0x08, 0xd2, 0x4b,
		0xff, 0xfc, 0xc1, 0xa4, 0x51, 0x1d, 0xb0, 0xe6, 0x34, 0xbe,
		0xeb, 0x1b, 0x6d, 0xec, 0x8c, 0x59, 0x39, 0xae, 0x44, 0x76,
		0x62, 0x01, 0xaf, 0x62, 0x00, 0x43, 0x0b, 0xa9, 0x7c, 0x8a,
		0xc6, 0xa0, 0xe9, 0xf0, 0x8b, 0x33, 0xce, 0x7e, 0x9f, 0xee,
		0xb5, 0xba, 0x4e, 0xe5, 0xe0, 0xd8, 0x15, 0x10, 0xc2, 0x42,
		0x95, 0xb8, 0xa0, 0x8d, 0x02, 0x35, 0x00, 0xa4, 0xa6, 0xec,
		0x30, 0x0d, 0xf9, 0xe2, 0x57, 0xb0, 0x37, 0x2b, 0x5e, 0x7a,
		0xbf, 0xef, 0x09, 0x34, 0x36, 0x71, 0x9a, 0x77, 0x88, 0x7e,
		0xbb, 0x0b, 0x18, 0xcf, 0x80, 0x99, 0xb9, 0xf4, 0x21, 0x2b,
		0x6e, 0x30, 0xa1, 0x41, 0x9c, 0x18, 0xe0, 0x29, 0xd3, 0x68,
		0x63, 0xcc, 0x9d, 0x44, 0x8f, 0x4d, 0xba, 0x4d, 0x2a, 0x0e,
		0x60, 0x71, 0x1b, 0xe5, 0x72, 0x91, 0x5f, 0xbd, 0x4f, 0xef,
		0x26, 0x95`),
    shared: h(`0x00, 0xcd, 0xea, 0x89, 0x62, 0x1c, 0xfa, 0x46, 0xb1, 0x32,
		0xf9, 0xe4, 0xcf, 0xe2, 0x26, 0x1c, 0xde, 0x2d, 0x43, 0x68,
		0xeb, 0x56, 0x56, 0x63, 0x4c, 0x7c, 0xc9, 0x8c, 0x7a, 0x00,
		0xcd, 0xe5, 0x4e, 0xd1, 0x86, 0x6a, 0x0d, 0xd3, 0xe6, 0x12,
		0x6c, 0x9d, 0x2f, 0x84, 0x5d, 0xaf, 0xf8, 0x2c, 0xeb, 0x1d,
		0xa0, 0x8f, 0x5d, 0x87, 0x52, 0x1b, 0xb0, 0xeb, 0xec, 0xa7,
		0x79, 0x11, 0x16, 0x9c, 0x20, 0xcc`),
  },
];

Deno.test("ECP 19/20/21 match RFC 5903 and RFC 5114 vectors (x || y, g^ir = x)", () => {
  for (const v of ECP_VECTORS) checkVector(v);
});

// ---------------------------------------------------------------------------
// Brainpool (RFC 6954 groups 28/29/30: KE data x || y, g^ir = x as for ECP).
// Source: RFC 7027 appendix A.1-A.3 (dA, QA, dB, QB, Z on brainpoolP256r1,
// P384r1 and P512r1); IKEv2 takes x_Z only.
// ---------------------------------------------------------------------------
const BRAINPOOL_VECTORS: DhVector[] = [
  {
    name: "RFC 7027 A.1 brainpoolP256r1",
    group: 28,
    privI: h("81DB1EE100150FF2EA338D708271BE38300CB54241D79950F77B063039804F1D"),
    privR: h("55E40BC41E37E3E2AD25C3C6654511FFA8474A91A0032087593852D3E7D76BD3"),
    pubI: h(
      "44106E913F92BC02A1705D9953A8414DB95E1AAA49E81D9E85F929A8E3100BE5" +
        "8AB4846F11CACCB73CE49CBDD120F5A900A69FD32C272223F789EF10EB089BDC",
    ),
    pubR: h(
      "8D2D688C6CF93E1160AD04CC4429117DC2C41825E1E9FCA0ADDD34E6F1B39F7B" +
        "990C57520812BE512641E47034832106BC7D3E8DD0E4C7F1136D7006547CEC6A",
    ),
    shared: h("89AFC39D41D3B327814B80940B042590F96556EC91E6AE7939BCE31F3A18BF2B"),
  },
  {
    name: "RFC 7027 A.2 brainpoolP384r1",
    group: 29,
    privI: h(
      "1E20F5E048A5886F1F157C74E91BDE2B98C8B52D58E5003D57053FC4B0BD65D6F15EB5D1EE1610DF870795143627D042",
    ),
    privR: h(
      "032640BC6003C59260F7250C3DB58CE647F98E1260ACCE4ACDA3DD869F74E01F8BA5E0324309DB6A9831497ABAC96670",
    ),
    pubI: h(
      "68B665DD91C195800650CDD363C625F4E742E8134667B767B1B476793588F885AB698C852D4A6E77A252D6380FCAF068" +
        "55BC91A39C9EC01DEE36017B7D673A931236D2F1F5C83942D049E3FA20607493E0D038FF2FD30C2AB67D15C85F7FAA59",
    ),
    pubR: h(
      "4D44326F269A597A5B58BBA565DA5556ED7FD9A8A9EB76C25F46DB69D19DC8CE6AD18E404B15738B2086DF37E71D1EB4" +
        "62D692136DE56CBE93BF5FA3188EF58BC8A3A0EC6C1E151A21038A42E9185329B5B275903D192F8D4E1F32FE9CC78C48",
    ),
    shared: h(
      "0BD9D3A7EA0B3D519D09D8E48D0785FB744A6B355E6304BC51C229FBBCE239BBADF6403715C35D4FB2A5444F575D4F42",
    ),
  },
  {
    name: "RFC 7027 A.3 brainpoolP512r1",
    group: 30,
    privI: h(
      "16302FF0DBBB5A8D733DAB7141C1B45ACBC8715939677F6A56850A38BD87BD59" +
        "B09E80279609FF333EB9D4C061231FB26F92EEB04982A5F1D1764CAD57665422",
    ),
    privR: h(
      "230E18E1BCC88A362FA54E4EA3902009292F7F8033624FD471B5D8ACE49D12CF" +
        "ABBC19963DAB8E2F1EBA00BFFB29E4D72D13F2224562F405CB80503666B25429",
    ),
    pubI: h(
      "0A420517E406AAC0ACDCE90FCD71487718D3B953EFD7FBEC5F7F27E28C614999" +
        "9397E91E029E06457DB2D3E640668B392C2A7E737A7F0BF04436D11640FD09FD" +
        "72E6882E8DB28AAD36237CD25D580DB23783961C8DC52DFA2EC138AD472A0FCE" +
        "F3887CF62B623B2A87DE5C588301EA3E5FC269B373B60724F5E82A6AD147FDE7",
    ),
    pubR: h(
      "9D45F66DE5D67E2E6DB6E93A59CE0BB48106097FF78A081DE781CDB31FCE8CCB" +
        "AAEA8DD4320C4119F1E9CD437A2EAB3731FA9668AB268D871DEDA55A5473199F" +
        "2FDC313095BCDD5FB3A91636F07A959C8E86B5636A1E930E8396049CB481961D" +
        "365CC11453A06C719835475B12CB52FC3C383BCE35E27EF194512B71876285FA",
    ),
    shared: h(
      "A7927098655F1F9976FA50A9D566865DC530331846381C87256BAF3226244B76" +
        "D36403C024D7BBF0AA0803EAFF405D3D24F11A9B5C0BEF679FE1454B21C4CD1F",
    ),
  },
];

Deno.test("Brainpool 28/29/30 match RFC 7027 vectors (x || y, g^ir = x) on every backend setting", () => {
  for (const v of BRAINPOOL_VECTORS) checkVector(v);
});

Deno.test("Brainpool agrees with python cryptography (pyca, OpenSSL) on fresh keys", async () => {
  const input = [28, 29, 30].map((group) => {
    const ke = createKeyExchange(group);
    return { group, pub: toHex(ke.publicKey), ke };
  });
  const script = `
import json, sys
from cryptography.hazmat.primitives.asymmetric import ec
CURVES = {28: ec.BrainpoolP256R1(), 29: ec.BrainpoolP384R1(), 30: ec.BrainpoolP512R1()}
out = []
for c in json.load(sys.stdin):
    curve = CURVES[c["group"]]
    n = len(c["pub"]) // 4
    peer = ec.EllipticCurvePublicKey.from_encoded_point(curve, bytes.fromhex("04" + c["pub"]))
    k = ec.generate_private_key(curve)
    nums = k.public_key().public_numbers()
    pub = nums.x.to_bytes(n, "big") + nums.y.to_bytes(n, "big")
    out.append({"pub": pub.hex(), "shared": k.exchange(ec.ECDH(), peer).hex()})
print(json.dumps(out))
`;
  const out = await runPythonJson(
    script,
    input.map(({ group, pub }) => ({ group, pub })),
  ) as { pub: string; shared: string }[];
  for (const [i, { group, ke }] of input.entries()) {
    assert.equal(toHex(ke.computeSharedSecret(fromHex(out[i].pub))), out[i].shared, `${group}`);
  }
});

// ---------------------------------------------------------------------------
// Curve25519/448. Source: RFC 7748 section 6.1/6.2 and RFC 8031 appendix A,
// as reproduced in strongSwan test_vectors/curve25519.c and curve448.c.
// ---------------------------------------------------------------------------
const CURVE_VECTORS: DhVector[] = [
  {
    name: "RFC 7748 6.1",
    group: 31,
    privI: h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
    privR: h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
    pubI: h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
    pubR: h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"),
    shared: h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"),
  },
  {
    name: "RFC 8031 appendix A",
    group: 31,
    privI: h("751fb4308655b476b6789b7325f9ea8cddd16a58533ff6d9e60009464a5f9d94"),
    privR: h("0a54645253290d60ddadd0e030bacd9e5501efdc220755a1e978f1b839a05688"),
    pubI: h("48d5ddd4061257ba166fa3f9bbdb74f1a4e81c089384fa77f790709f0dfbc766"),
    pubR: h("0be7c1f5aad87d7e448662673298a443478b859745179eaf564c79c0ef6eee25"),
    shared: h("c74950607a12327f3204d94b6825bfb068b7f8319a9e3708ed3d43ce8130c950"),
  },
  {
    name: "RFC 7748 6.2",
    group: 32,
    privI: h(
      "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf5" +
        "74a9419744897391006382a6f127ab1d9ac2d8c0a598726b",
    ),
    privR: h(
      "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120" +
        "bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d",
    ),
    pubI: h(
      "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bb" +
        "c836647241d953d40c5b12da88120d53177f80e532c41fa0",
    ),
    pubR: h(
      "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972" +
        "fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609",
    ),
    shared: h(
      "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56" +
        "fd2464c335543936521c24403085d59a449a5037514a879d",
    ),
  },
];

Deno.test("Curve25519/Curve448 match RFC 7748 and RFC 8031 vectors", () => {
  for (const v of CURVE_VECTORS) checkVector(v);
});

// ---------------------------------------------------------------------------
// MODP. The primes are recomputed from RFC 3526's formula
// p = 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k) with pi computed here
// (Machin's formula on BigInt), and compared with node:crypto's built-in
// modp14/15/16; g^x mod p is checked against a plain BigInt square-and-multiply.
// ---------------------------------------------------------------------------
function piScaled(bits: number): bigint {
  // floor(pi * 2^bits) via Machin: pi = 16 atan(1/5) - 4 atan(1/239), with guard bits.
  const guard = 64n;
  const one = 1n << (BigInt(bits) + guard);
  const atanInv = (x: bigint) => {
    let sum = 0n;
    let term = one / x;
    const x2 = x * x;
    for (let k = 1n; term !== 0n; k += 2n) {
      sum += (k % 4n === 1n ? 1n : -1n) * (term / k);
      term /= x2;
    }
    return sum;
  };
  return (16n * atanInv(5n) - 4n * atanInv(239n)) >> guard;
}

// RFC 2409 section 6.1/6.2 (groups 1, 2) and RFC 3526 section 2 (group 5).
const WEAK: [1 | 2 | 5, number, bigint, string][] = [
  [1, 768, 149686n, "modp1"],
  [2, 1024, 129093n, "modp2"],
  [5, 1536, 741804n, "modp5"],
];

const RFC3526: [14 | 15 | 16 | 17 | 18, number, bigint, string][] = [
  [14, 2048, 124476n, "modp14"],
  [15, 3072, 1690314n, "modp15"],
  [16, 4096, 240904n, "modp16"],
  [17, 6144, 929484n, "modp17"],
  [18, 8192, 4743158n, "modp18"],
];

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
  }
  return r;
}

const big = (b: Uint8Array) => BigInt("0x" + (toHex(b) || "0"));
const bytesOf = (x: bigint, len: number) => fromHex(x.toString(16).padStart(2 * len, "0"));

Deno.test("MODP primes equal the RFC 2409/3526 formula and node:crypto's tables", () => {
  for (const [id, n, k, name] of RFC3526) {
    const N = BigInt(n);
    const p = (1n << N) - (1n << (N - 64n)) - 1n + (1n << 64n) * (piScaled(n - 130) + k);
    assert.equal(MODP_PRIMES[id], p, `group ${id}`);
    assert.equal(big(getDiffieHellman(name).getPrime()), p, `node ${name}`);
  }
  for (const [id, n, k, name] of WEAK) {
    const N = BigInt(n);
    const p = (1n << N) - (1n << (N - 64n)) - 1n + (1n << 64n) * (piScaled(n - 130) + k);
    assert.equal(WEAK_MODP_PRIMES[id], p, `weak group ${id}`);
    assert.equal(big(getDiffieHellman(name).getPrime()), p, `node ${name}`);
  }
  assert.equal(MODP_GENERATOR, 2n);
});

Deno.test("weak MODP groups 1/2/5 work only with allowWeak", () => {
  for (const [id] of WEAK) {
    const opts = { allowWeak: true };
    const i = createKeyExchange(id, countingRng(1), opts);
    const r = createKeyExchange(id, countingRng(50), opts);
    const p = WEAK_MODP_PRIMES[id];
    assert.equal(i.publicKey.length, keInfo(id)!.publicKeyLength);
    const s = i.computeSharedSecret(r.publicKey);
    assert.deepEqual(s, r.computeSharedSecret(i.publicKey));
    const xi = big(generatePrivateKey(id, countingRng(1)));
    assert.equal(big(s), modPow(big(r.publicKey), xi, p), `group ${id}`);
    assert.throws(() => i.computeSharedSecret(bytesOf(p - 1n, s.length)), CryptoError);
  }
});

Deno.test("MODP 14/15/16/17/18: g^x and g^xy agree with plain BigInt arithmetic", () => {
  for (const [id] of RFC3526) {
    const p = MODP_PRIMES[id];
    const xi = generatePrivateKey(id, countingRng(1));
    const xr = generatePrivateKey(id, countingRng(100));
    assert.equal(xi.length, MODP_EXPONENT_BYTES[id]);
    assert.ok(xi[0] & 0x80, "full-length exponent");
    const i = createKeyExchangeFromPrivate(id, xi);
    const r = createKeyExchangeFromPrivate(id, xr);
    const len = keInfo(id)!.publicKeyLength;
    assert.equal(i.publicKey.length, len);
    assert.equal(big(i.publicKey), modPow(2n, big(xi), p), `g^xi group ${id}`);
    const s = i.computeSharedSecret(r.publicKey);
    assert.equal(s.length, len);
    assert.equal(big(s), modPow(big(r.publicKey), big(xi), p), `g^xixr group ${id}`);
    assert.deepEqual(r.computeSharedSecret(i.publicKey), s);
  }
});

Deno.test("MODP shared secret is left-padded to the prime's length (RFC 7296 2.14)", () => {
  // Find exponents whose g^xy has a leading zero byte (about 1 in 256 tries).
  const p = MODP_PRIMES[14];
  const i = createKeyExchangeFromPrivate(14, generatePrivateKey(14, countingRng(7)));
  const xi = big(generatePrivateKey(14, countingRng(7)));
  for (let seed = 0; seed < 4000; seed++) {
    const xr = generatePrivateKey(14, countingRng(1000 + seed));
    const r = createKeyExchangeFromPrivate(14, xr);
    if (modPow(big(r.publicKey), xi, p) >> 2040n !== 0n) continue;
    const s = i.computeSharedSecret(r.publicKey);
    assert.equal(s.length, 256);
    assert.equal(s[0], 0);
    return;
  }
  assert.fail("no shared secret with a leading zero byte found");
});

// ---------------------------------------------------------------------------
// Peer public value validation (RFC 7296 section 5.12 / RFC 8247 section 2.4,
// RFC 5903 / SP 800-56A point checks, RFC 8031 section 2.3).
// ---------------------------------------------------------------------------

Deno.test("invalid peer public values are rejected with CryptoError", () => {
  for (const [id] of RFC3526) {
    const p = MODP_PRIMES[id];
    const len = keInfo(id)!.publicKeyLength;
    const ke = createKeyExchange(id, countingRng(3));
    for (const y of [0n, 1n, p - 1n, p, p + 1n, (1n << BigInt(8 * len)) - 1n]) {
      assert.throws(() => ke.computeSharedSecret(bytesOf(y, len)), CryptoError, `${id} y=${y}`);
    }
    assert.throws(() => ke.computeSharedSecret(new Uint8Array(len - 1).fill(2)), CryptoError);
    assert.ok(ke.computeSharedSecret(bytesOf(2n, len)).length === len); // 1 < y < p-1 is fine
  }
  for (const opts of EC_BACKENDS) {
    for (const v of [...ECP_VECTORS, ...BRAINPOOL_VECTORS]) {
      const ke = createKeyExchangeFromPrivate(v.group, v.privI, opts);
      const off = v.pubR.slice();
      off[off.length - 1] ^= 1; // y no longer on the curve
      assert.throws(() => ke.computeSharedSecret(off), CryptoError, v.name);
      assert.throws(() => ke.computeSharedSecret(new Uint8Array(v.pubR.length)), CryptoError);
      assert.throws(() => ke.computeSharedSecret(v.pubR.subarray(1)), CryptoError);
      const sec1 = new Uint8Array(v.pubR.length + 1);
      sec1[0] = 4;
      sec1.set(v.pubR, 1);
      assert.throws(() => ke.computeSharedSecret(sec1), CryptoError, "0x04 prefix is not IKEv2");
      const fieldOnes = new Uint8Array(v.pubR.length).fill(0xff); // x, y >= p
      assert.throws(() => ke.computeSharedSecret(fieldOnes), CryptoError);
    }
    // X25519 small-order points give an all-zero secret (RFC 7748 section 6.1, RFC 8031 2.3).
    const x = createKeyExchangeFromPrivate(31, CURVE_VECTORS[0].privI, opts);
    const smallOrder = [
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0100000000000000000000000000000000000000000000000000000000000000",
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
      "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];
    for (const hex of smallOrder) {
      assert.throws(() => x.computeSharedSecret(fromHex(hex)), CryptoError, hex);
    }
    assert.throws(() => x.computeSharedSecret(new Uint8Array(31)), CryptoError);
    const x4 = createKeyExchangeFromPrivate(32, CURVE_VECTORS[2].privI, opts);
    assert.throws(() => x4.computeSharedSecret(new Uint8Array(56)), CryptoError);
    const one448 = new Uint8Array(56);
    one448[0] = 1;
    assert.throws(() => x4.computeSharedSecret(one448), CryptoError);
  }
});

Deno.test("weak, unknown and unimplemented groups are refused; bad private keys too", () => {
  for (const g of [1, 2, 5]) {
    assert.throws(() => createKeyExchange(g), /too weak/);
    assert.throws(() => createKeyExchangeFromPrivate(g, new Uint8Array(32).fill(7)), /too weak/);
  }
  assert.throws(() => createKeyExchange(99), CryptoError);
  assert.throws(() => createKeyExchange(0), CryptoError);
  assert.throws(() => createKeyExchangeFromPrivate(14, Uint8Array.of(1)), CryptoError);
  assert.throws(() => createKeyExchangeFromPrivate(19, new Uint8Array(32)), CryptoError);
  assert.throws(() => createKeyExchangeFromPrivate(19, new Uint8Array(32).fill(0xff)), CryptoError);
  assert.throws(() => createKeyExchangeFromPrivate(31, new Uint8Array(31)), CryptoError);
});

Deno.test("injected RNG makes key generation reproducible; pairs agree for every group", () => {
  for (const g of [14, 15, 16, 19, 20, 21, 28, 29, 30, 31, 32]) {
    const a1 = createKeyExchange(g, countingRng(11));
    const a2 = createKeyExchange(g, countingRng(11));
    assert.deepEqual(a1.publicKey, a2.publicKey, `group ${g}`);
    const b = createKeyExchange(g, countingRng(77));
    assert.notDeepEqual(a1.publicKey, b.publicKey);
    assert.deepEqual(a1.computeSharedSecret(b.publicKey), b.computeSharedSecret(a1.publicKey));
    assert.equal(a1.group, g);
  }
  // ECP scalars stay in [1, n-1] even for an all-0xff RNG.
  for (const g of [19, 20, 21, 28, 29, 30]) {
    const d = generatePrivateKey(g, (n) => new Uint8Array(n).fill(0xff));
    assert.ok(createKeyExchangeFromPrivate(g, d).publicKey.length > 0);
  }
});

// ---------------------------------------------------------------------------
// Cross-implementation: node:crypto's ECDH (P-256/384) and X25519/X448 agree
// with ours (noble) on fresh keys.
// ---------------------------------------------------------------------------
Deno.test("ECP and Curve25519/448 agree with node:crypto", () => {
  for (const [g, curve] of [[19, "prime256v1"], [20, "secp384r1"]] as const) {
    const ours = createKeyExchange(g, countingRng(g));
    const node = createECDH(curve);
    node.generateKeys();
    const nodePub = new Uint8Array(node.getPublicKey()).subarray(1); // drop 0x04
    const theirs = new Uint8Array(node.computeSecret(Uint8Array.of(4, ...ours.publicKey)));
    assert.equal(toHex(ours.computeSharedSecret(nodePub)), toHex(theirs), curve);
  }
  for (const [g, crv, len] of [[31, "X25519", 32], [32, "X448", 56]] as const) {
    const ours = createKeyExchange(g, countingRng(5));
    const b64 = (b: Uint8Array) =>
      btoa(String.fromCharCode(...b)).replace(/\+/g, "-")
        .replace(/\//g, "_").replace(/=+$/, "");
    const privRaw = new Uint8Array(len).fill(9);
    const priv = createPrivateKey({
      key: {
        kty: "OKP",
        crv,
        d: b64(privRaw),
        x: b64(createKeyExchangeFromPrivate(g, privRaw).publicKey),
      },
      format: "jwk",
    });
    const pub = createPublicKey({
      key: { kty: "OKP", crv, x: b64(ours.publicKey) },
      format: "jwk",
    });
    const theirs = new Uint8Array(diffieHellman({ privateKey: priv, publicKey: pub }));
    const mine = ours.computeSharedSecret(createKeyExchangeFromPrivate(g, privRaw).publicKey);
    assert.equal(toHex(mine), toHex(theirs), crv);
  }
});
