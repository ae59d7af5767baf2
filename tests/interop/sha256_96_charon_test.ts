/**
 * strongSwan's `sha256_96` against charon. charon's userspace ESP
 * (kernel-libipsec) has no HMAC_SHA2_256_96 ("unsupported integrity
 * algorithm": it refuses the child SA when the option is on), so charon runs
 * without it here, and only our side sets it. Nothing in IKE carries the
 * option: the SA comes up, and charon, checking a 128-bit ICV, drops what we
 * send with 96 bits. The 96-bit format itself is checked against Python's
 * hmac (tests/esp/sha256_96_test.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { benchTest, must } from "../helpers/interop_system.ts";
import { ping } from "../helpers/interop_traffic.ts";

const proposals = {
  ike: "aes256-sha256-ecp256",
  esp: "aes256-sha256",
  charonIke: "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256",
  charonEsp: "ESP:AES_CBC-256/HMAC_SHA2_256_128",
};

benchTest("sha256_96 on our side only: the SA comes up, charon drops our packets", async (b) => {
  must(await b.daemon.cli(["up", "gw", "--timeout", "15"]), "ipsec up gw");
  const sas = await b.daemon.cli(["list-sas"]);
  assert.match(sas.stdout, /HMAC_SHA2_256_96/, sas.stdout);
  const r = await ping(
    b.lab,
    { ns: b.d, ip: "10.2.0.1" },
    { ns: b.c, ip: "10.1.0.1" },
    2,
    0.2,
    true,
  );
  assert.notEqual(r.code, 0, `pings must not pass with different ICV lengths:\n${r.stdout}`);
  must(await b.daemon.cli(["down", "gw"]), "ipsec down gw");
}, { proposals, ours: { childExtra: ["sha256_96: yes"] } });
