/**
 * Test helpers: independent oracles for MD4, DES and MS-CHAPv2.
 * - the openssl CLI with the legacy provider (MD4, DES-ECB);
 * - a python3 MS-CHAPv2 written from RFC 2759/3079 on pure-python MD4 and
 *   pyca/cryptography's TripleDES with an 8-byte key (= single DES).
 *
 * @module
 */
import assert from "node:assert/strict";
import { toHex } from "../../lib/wire/bytes.ts";

/** Runs a command with `stdin`, returns stdout; fails the test on error. */
export async function run(cmd: string, args: string[], stdin: Uint8Array): Promise<string> {
  const p = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const w = p.stdin.getWriter();
  await w.write(stdin);
  await w.close();
  const out = await p.output();
  assert.ok(out.success, `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** MD4 by `openssl dgst -md4` (legacy provider), lower-case hex. */
export async function opensslMd4(data: Uint8Array): Promise<string> {
  const out = await run(
    "openssl",
    ["dgst", "-md4", "-provider", "legacy", "-provider", "default", "-r"],
    data,
  );
  return out.trim().split(/\s+/)[0].toLowerCase();
}

/** One DES-ECB block by `openssl enc -des-ecb -nopad` (legacy provider), hex. */
export async function opensslDes(key8: Uint8Array, block8: Uint8Array): Promise<string> {
  const p = new Deno.Command("openssl", {
    args: [
      "enc",
      "-des-ecb",
      "-provider",
      "legacy",
      "-provider",
      "default",
      "-nopad",
      "-K",
      toHex(key8),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(block8);
  await w.close();
  const out = await p.output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return toHex(out.stdout);
}

/**
 * Python oracle: reads [{ac, pc, user, password, nt?}] (hex / str) on stdin and
 * prints [{nt, auth, msk}] computed from RFC 2759 / RFC 3079 directly.
 */
export const PYTHON_MSCHAPV2 = String.raw`
import sys, json, hashlib, struct
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

def md4(msg):
    def F(x, y, z): return (x & y) | (~x & z)
    def G(x, y, z): return (x & y) | (x & z) | (y & z)
    def H(x, y, z): return x ^ y ^ z
    def rl(v, s):
        v &= 0xffffffff
        return ((v << s) | (v >> (32 - s))) & 0xffffffff
    ml = len(msg) * 8
    msg = msg + b"\x80" + b"\x00" * ((55 - len(msg)) % 64) + struct.pack("<Q", ml)
    h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]
    for off in range(0, len(msg), 64):
        X = struct.unpack("<16I", msg[off:off + 64])
        a, b, c, d = h
        for k in range(16):
            i = [0, 4, 8, 12][k // 4] + k % 4
            s = [3, 7, 11, 19][k % 4]
            if k % 4 == 0: a = rl(a + F(b, c, d) + X[i], s)
            elif k % 4 == 1: d = rl(d + F(a, b, c) + X[i], s)
            elif k % 4 == 2: c = rl(c + F(d, a, b) + X[i], s)
            else: b = rl(b + F(c, d, a) + X[i], s)
        for k in range(16):
            i = k // 4 + 4 * (k % 4)
            s = [3, 5, 9, 13][k % 4]
            t = 0x5a827999
            if k % 4 == 0: a = rl(a + G(b, c, d) + X[i] + t, s)
            elif k % 4 == 1: d = rl(d + G(a, b, c) + X[i] + t, s)
            elif k % 4 == 2: c = rl(c + G(d, a, b) + X[i] + t, s)
            else: b = rl(b + G(c, d, a) + X[i] + t, s)
        order = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15]
        for k in range(16):
            i = order[k]
            s = [3, 9, 11, 15][k % 4]
            t = 0x6ed9eba1
            if k % 4 == 0: a = rl(a + H(b, c, d) + X[i] + t, s)
            elif k % 4 == 1: d = rl(d + H(a, b, c) + X[i] + t, s)
            elif k % 4 == 2: c = rl(c + H(d, a, b) + X[i] + t, s)
            else: b = rl(b + H(c, d, a) + X[i] + t, s)
        h = [(x + y) & 0xffffffff for x, y in zip(h, [a, b, c, d])]
    return struct.pack("<4I", *h)

def des_key(k7):
    bits = int.from_bytes(k7, "big")
    return bytes((((bits >> (49 - 7 * i)) & 0x7f) << 1) for i in range(8))

def des(k7, block):
    enc = Cipher(algorithms.TripleDES(des_key(k7)), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()

sha1 = lambda b: hashlib.sha1(b).digest()
M1 = b"Magic server to client signing constant"
M2 = b"Pad to make it do more than one iteration"
K1 = b"This is the MPPE Master Key"
K2 = b"On the client side, this is the send key; on the server side, it is the receive key."
K3 = b"On the client side, this is the receive key; on the server side, it is the send key."

out = []
for v in json.load(sys.stdin):
    ac, pc = bytes.fromhex(v["ac"]), bytes.fromhex(v["pc"])
    user = v["user"].encode()
    pwh = md4(v["password"].encode("utf-16-le"))
    pwhh = md4(pwh)
    ch = sha1(pc + ac + user)[:8]
    z = pwh + b"\x00" * 5
    nt = des(z[0:7], ch) + des(z[7:14], ch) + des(z[14:21], ch)
    auth = sha1(sha1(pwhh + nt + M1) + ch + M2)
    mk = sha1(pwhh + nt + K1)[:16]
    recv = sha1(mk + b"\x00" * 40 + K2 + b"\xf2" * 40)[:16]
    send = sha1(mk + b"\x00" * 40 + K3 + b"\xf2" * 40)[:16]
    out.append({"nt": nt.hex(), "auth": "S=" + auth.hex().upper(),
                "msk": (recv + send + b"\x00" * 32).hex()})
print(json.dumps(out))
`;
