/**
 * RFC 3686 section 6, test vectors #1-#9 (AES-CTR for ESP): AES key, 4-byte
 * nonce, 8-byte IV, plaintext and ciphertext, transcribed from the RFC. The
 * counter block of the first keystream block is nonce || IV || 00000001.
 *
 * @module
 */

/** One RFC 3686 test vector (hex). */
export interface Rfc3686Vector {
  /** "#1" .. "#9". */
  readonly name: string;
  readonly key: string;
  readonly nonce: string;
  readonly iv: string;
  readonly plaintext: string;
  readonly ciphertext: string;
}

const SINGLE_BLOCK = "53696e676c6520626c6f636b206d7367"; // "Single block msg"
const PT32 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const PT36 = PT32 + "20212223";

/** The nine vectors of RFC 3686 section 6. */
export const RFC3686_VECTORS: readonly Rfc3686Vector[] = [
  {
    name: "#1",
    key: "ae6852f8121067cc4bf7a5765577f39e",
    nonce: "00000030",
    iv: "0000000000000000",
    plaintext: SINGLE_BLOCK,
    ciphertext: "e4095d4fb7a7b3792d6175a3261311b8",
  },
  {
    name: "#2",
    key: "7e24067817fae0d743d6ce1f32539163",
    nonce: "006cb6db",
    iv: "c0543b59da48d90b",
    plaintext: PT32,
    ciphertext: "5104a106168a72d9790d41ee8edad388eb2e1efc46da57c8fce630df9141be28",
  },
  {
    name: "#3",
    key: "7691be035e5020a8ac6e618529f9a0dc",
    nonce: "00e0017b",
    iv: "27777f3f4a1786f0",
    plaintext: PT36,
    ciphertext: "c1cf48a89f2ffdd9cf4652e9efdb72d74540a42bde6d7836d59a5ceaaef31053" +
      "25b2072f",
  },
  {
    name: "#4",
    key: "16af5b145fc9f579c175f93e3bfb0eed863d06ccfdb78515",
    nonce: "00000048",
    iv: "36733c147d6d93cb",
    plaintext: SINGLE_BLOCK,
    ciphertext: "4b55384fe259c9c84e7935a003cbe928",
  },
  {
    name: "#5",
    key: "7c5cb2401b3dc33c19e7340819e0f69c678c3db8e6f6a91a",
    nonce: "0096b03b",
    iv: "020c6eadc2cb500d",
    plaintext: PT32,
    ciphertext: "453243fc609b23327edfaafa7131cd9f8490701c5ad4a79cfc1fe0ff42f4fb00",
  },
  {
    name: "#6",
    key: "02bf391ee8ecb159b959617b0965279bf59b60a786d3e0fe",
    nonce: "0007bdfd",
    iv: "5cbd60278dcc0912",
    plaintext: PT36,
    ciphertext: "96893fc55e5c722f540b7dd1ddf7e758d288bc95c69165884536c811662f2188" +
      "abee0935",
  },
  {
    name: "#7",
    key: "776beff2851db06f4c8a0542c8696f6c6a81af1eec96b4d37fc1d689e6c1c104",
    nonce: "00000060",
    iv: "db5672c97aa8f0b2",
    plaintext: SINGLE_BLOCK,
    ciphertext: "145ad01dbf824ec7560863dc71e3e0c0",
  },
  {
    name: "#8",
    key: "f6d66d6bd52d59bb0796365879eff886c66dd51a5b6a99744b50590c87a23884",
    nonce: "00faac24",
    iv: "c1585ef15a43d875",
    plaintext: PT32,
    ciphertext: "f05e231b3894612c49ee000b804eb2a9b8306b508f839d6a5530831d9344af1c",
  },
  {
    name: "#9",
    key: "ff7a617ce69148e4f1726e2f43581de2aa62d9f805532edff1eed687fb54153d",
    nonce: "001cc5b7",
    iv: "51a51d70a1c11148",
    plaintext: PT36,
    ciphertext: "eb6c52821d0bbbf7ce7594462aca4faab407df866569fd07f48cc0b583d6071f" +
      "1ec0e6b8",
  },
];

/** The initial counter block of `v` (hex): nonce || IV || 00000001. */
export function counterBlock(v: Rfc3686Vector): string {
  return v.nonce + v.iv + "00000001";
}
