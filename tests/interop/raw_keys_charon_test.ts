/**
 * Raw public keys with strongSwan's charon (swanctl `pubkeys`): no
 * certificates and no CA, each side trusts the other's public key, written
 * by `ipsec pki pub` (ours) and strongSwan's `pki --pub` (charon's). Both
 * directions, ECDSA and Ed25519; charon must log the signature it verified.
 *
 * ```
 *  initiator ──IKE_AUTH {IDi IDr AUTH SA TSi TSr}──► responder   (no CERT, no CERTREQ)
 *  initiator ◄──────────{IDr AUTH SA TSi TSr}─────── responder
 * ```
 *
 * @module
 */
import { type CertKeyType, issueCerts } from "../helpers/interop_certs.ts";
import { ENGINE_ID, InteropLab } from "../helpers/interop_lab.ts";
import { run } from "../helpers/netns.ts";

const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;

async function must(argv: string[], what: string): Promise<void> {
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`${what}: ${r.stdout}${r.stderr}`);
}

Deno.test({
  name: "strongSwan interop: raw public keys (pubkeys), ECDSA and Ed25519, both directions",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    try {
      for (const type of ["ecdsa", "ed25519"] as CertKeyType[]) {
        const certs = await issueCerts(`${lab.dir}/raw-${type}`, "ipsec", type);
        const dir = `${lab.dir}/raw-${type}`;
        await must(
          [
            Deno.execPath(),
            "run",
            "-A",
            MAIN,
            "pki",
            "pub",
            "--in",
            certs.engineKey,
            "--out",
            `${dir}/sun.pub`,
          ],
          "ipsec pki pub",
        );
        const swan = await new Deno.Command("pki", {
          args: ["--pub", "--in", certs.charonKey, "--outform", "pem"],
          stdout: "piped",
          stderr: "piped",
        }).output();
        if (!swan.success) throw new Error(new TextDecoder().decode(swan.stderr));
        await Deno.writeFile(`${dir}/moon.pub`, swan.stdout);
        for (const initiator of ["engine", "charon"] as const) {
          await t.step(`${type}: ${initiator} initiates`, () =>
            lab.runCase({
              name: `r-${type}-${initiator}`,
              ike: "aes256gcm16-prfsha256-x25519",
              esp: "aes256gcm16",
              initiator,
              deleter: initiator,
              certs,
              engine: { peerPubkeyFile: `${dir}/moon.pub`, sendCert: "never" },
              charon: { rawKeys: { local: `${dir}/moon.pub`, remote: `${dir}/sun.pub` } },
              expectCharonLog: new RegExp(
                `authentication of '${ENGINE_ID.replaceAll(".", "\\.")}' with ${
                  type === "ecdsa" ? "ECDSA_WITH_SHA256_DER" : "ED25519"
                } successful`,
              ),
            }));
        }
      }
    } finally {
      await lab.close();
    }
  },
});
