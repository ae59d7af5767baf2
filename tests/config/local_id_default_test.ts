/**
 * swanctl's default local identity: with certificates it is the certificate's
 * subject DN (strongSwan sends it as IDi of type DER_ASN1_DN, checked against
 * charon 5.9.8), otherwise our single address. The certificate is made by
 * openssl, an independent implementation.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";

async function openssl(...args: string[]): Promise<Uint8Array> {
  const r = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return r.stdout;
}

const yaml = (local: string) => `
connections:
  gw:
    local_addrs: 192.0.2.1
    remote_addrs: 192.0.2.2
    local:
${local}
    remote:
      auth: psk
      id: peer.example.org
    children:
      net:
        local_ts: 10.1.0.0/24
        remote_ts: 10.2.0.0/24
secrets:
  s:
    secret: "0123456789abcdef"
`;

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
