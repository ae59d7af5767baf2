/**
 * swanctl's default local identity: with certificates it is the certificate's
 * subject DN (strongSwan sends it as IDi of type DER_ASN1_DN, checked against
 * charon 5.9.8), otherwise our single address. The certificate is made by
 * openssl, an independent implementation.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { gwConnection } from "../helpers/config_yaml.ts";
import { openssl } from "../helpers/openssl.ts";

const yaml = (local: string) =>
  "\n" + gwConnection(local, { localAddrs: "192.0.2.1", remoteId: "peer.example.org" });

Deno.test("config: without local.id, pubkey uses the certificate subject, psk the address", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tcfg-lid-" });
  try {
    const key = await openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout");
    await Deno.writeFile(`${dir}/gw.key`, key);
    const cert = await openssl(
      ...["req", "-x509", "-key", `${dir}/gw.key`, "-subj", "/C=CH/O=gap interop/CN=gw"],
      ...["-days", "1", "-outform", "PEM"],
    );
    await Deno.writeFile(`${dir}/gw.pem`, cert);
    const read = (p: string) => Deno.readFileSync(`${dir}/${p}`);
    const withCert = parseConfig(
      yaml("      auth: pubkey\n      certs: gw.pem\n      key: gw.key"),
      { file: "t.yaml", readFile: read },
    );
    assert.deepEqual(withCert.connections[0].local.id, {
      type: "dn",
      value: "C=CH, O=gap interop, CN=gw",
    });
    const psk = parseConfig(yaml("      auth: psk"), { file: "t.yaml", readFile: read });
    assert.deepEqual(psk.connections[0].local.id, { type: "ipv4", value: "192.0.2.1" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
