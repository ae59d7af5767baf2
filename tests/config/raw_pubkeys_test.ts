/**
 * Raw public keys in the configuration (swanctl's `pubkeys`): `remote.pubkeys`
 * takes PEM `PUBLIC KEY` (what `ipsec pki pub`, strongSwan's `pki --pub` and
 * `openssl pkey -pubout` write), PEM `RSA PUBLIC KEY` or DER SPKI, made by
 * openssl; the engine and the PAD get SubjectPublicKeyInfo DER, and a local
 * side may sign with a bare `key` (no `certs`).
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/config.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { buildPadEntries } from "../../lib/config/build.ts";
import { toPeerConfig } from "../../lib/config/to_peer_config.ts";
import { padRows } from "../../lib/db/tables.ts";
import { openssl } from "../helpers/openssl.ts";

const yaml = (pub: string) =>
  `connections:
  host:
    local_addrs: 192.0.2.1
    remote_addrs: 192.0.2.2
    local: { auth: pubkey, id: a.example.org, key: a.key }
    remote: { auth: pubkey, id: b.example.org, pubkeys: [${pub}] }
    children:
      net: { local_ts: 192.0.2.1/32, remote_ts: 192.0.2.2/32, mode: transport }
`;

Deno.test("config: remote.pubkeys in PEM SPKI, PEM PKCS#1 and DER become SPKI; local signs with a bare key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tcfg-pub-" });
  try {
    await Deno.writeFile(`${dir}/a.key`, await openssl("genpkey", "-algorithm", "ed25519"));
    await Deno.writeFile(`${dir}/b.key`, await openssl("genrsa", "2048"));
    const spkiDer = await openssl("pkey", "-in", `${dir}/b.key`, "-pubout", "-outform", "DER");
    await Deno.writeFile(`${dir}/b.pub.der`, spkiDer);
    await Deno.writeFile(`${dir}/b.pub`, await openssl("pkey", "-in", `${dir}/b.key`, "-pubout"));
    await Deno.writeFile(
      `${dir}/b.rsapub`,
      await openssl("rsa", "-in", `${dir}/b.key`, "-RSAPublicKey_out"),
    );
    const readFile = (p: string) => Deno.readFileSync(`${dir}/${p}`);
    for (const f of ["b.pub", "b.rsapub", "b.pub.der"]) {
      const c = parseConfig(yaml(f), { readFile });
      const conn = c.connections[0];
      assert.deepEqual(conn.remote.pubkeys, [new Uint8Array(spkiDer)], f);
      assert.deepEqual(conn.local.certs, []);
      const p = toPeerConfig(conn);
      assert.deepEqual(p.remote.pubkeys, [new Uint8Array(spkiDer)]);
      assert.equal(p.local.certs, undefined);
      const [pad] = buildPadEntries(c);
      assert.ok(pad.auth.method === "pubkey" && pad.auth.pinnedKeys?.length === 1);
      assert.equal(padRows([pad])[0].auth, "pubkey (0 CAs, 1 raw key)");
    }
    assert.throws(
      () => parseConfig(yaml("a.key"), { readFile }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /cannot read 'a\.key': a PRIVATE KEY block, expected PUBLIC KEY/.test(e.message),
    );
    assert.throws(
      () =>
        parseConfig(
          yaml("b.pub").replace("remote: { auth: pubkey,", "remote: { auth: psk,"),
          { readFile },
        ),
      (e: unknown) =>
        e instanceof ConfigError && /'pubkeys' applies to auth: pubkey only/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
