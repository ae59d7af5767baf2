/**
 * Certificates sent only when asked (strongSwan's default `send_cert =
 * ifasked`, ours `sendCert: "ifasked"`): each side must name the CA in a
 * CERTREQ (SHA-1 of its subjectPublicKeyInfo, RFC 7296 section 3.7) so that
 * the other sends its certificate; identities are long distinguished names
 * (OU with spaces, E=) from strongSwan's `pki`, compared by both
 * sides against the certificate's subject. Each side initiates, over IPv4 and
 * over IPv6 (the RSA IKE_AUTH messages then travel as RFC 7383 fragments).
 *
 * ```
 *  initiator ──IKE_SA_INIT {... CERTREQ}──► responder          (responder asks)
 *  initiator ──IKE_AUTH {IDi CERT CERTREQ IDr AUTH ...}──► responder
 *  initiator ◄─IKE_AUTH {IDr CERT AUTH ...}──── responder
 * ```
 *
 * @module
 */
import { C4, C6, check, E4, E6, gapConf, GapLab, gapSpec } from "./_gap_lab.ts";
import { issueSwanSet } from "../helpers/interop_certs.ts";

const DN_C = "C=CH, O=gap interop, OU=Lab Site A, CN=moon, E=moon@example.org";
const DN_E = "C=CH, O=gap interop, OU=Lab, CN=sun, E=sun@example.org";

Deno.test({
  name: "strongSwan interop: certificates sent only on CERTREQ, long DN identities",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await GapLab.create("q");
    try {
      const f = (n: string) => `${lab.dir}/${n}`;
      await issueSwanSet(lab.dir, "rsa", "C=CH, O=gap interop, CN=Gap RSA CA", [
        { name: "moon", dn: DN_C },
        { name: "sun", dn: DN_E },
      ]);
      // Over IPv6 too: the RSA IKE_AUTH messages need RFC 7383 fragments that fit 1280 bytes.
      for (const [family, c, e] of [["IPv4", C4, E4], ["IPv6", C6, E6]] as const) {
        const conf = gapConf([{
          name: "cr",
          localAddrs: c,
          remoteAddrs: e,
          local: { auth: "pubkey", id: `"${DN_C}"`, certs: f("moon.pem") },
          remote: { auth: "pubkey", id: `"${DN_E}"`, cacerts: f("ca.pem") },
          children: [{ name: "cr-net", localTs: "10.1.0.0/16", remoteTs: "10.2.0.0/16" }],
          extra: ["send_cert = ifasked", "send_certreq = yes"],
        }]);
        const spec = gapSpec({
          name: "cr",
          localAddr: e,
          remoteAddr: c,
          localId: DN_E,
          remoteId: DN_C,
          auth: "pubkey",
          certFile: f("sun.pem"),
          keyFile: f("sun.key"),
          caFile: f("ca.pem"),
          sendCert: "ifasked",
        });
        for (const who of ["engine", "charon"] as const) {
          await t.step(`${family}: ${who} initiates`, () =>
            lab.withLogs(async () => {
              await lab.load(conf, spec, [f("moon.key")]);
              const mark = lab.engine.mark();
              const logMark = await lab.charon.logMark();
              if (who === "engine") await lab.engine.initiate();
              else await lab.charon.initiate("cr", "cr-net");
              await lab.engineUp(mark);
              const s = await lab.charonUp();
              check(s.localAddr === c, "wrong address family", s);
              const clog = await lab.charon.log(logMark);
              // Both IKE_AUTH messages carried a CERT: each side's CERTREQ was understood.
              const auth = clog.split("\n").filter((l) =>
                /IKE_AUTH (request|response) 1 \[ ID/.test(l)
              );
              check(
                auth.length === 2 && auth.every((l) => / CERT /.test(l)),
                "a CERT is missing",
                auth,
              );
              check(
                /received cert request for "C=CH, O=gap interop, CN=Gap RSA CA"/.test(clog),
                "charon did not match our CERTREQ to its CA",
                clog.split("\n").filter((l) => /cert request/.test(l)),
              );
              check(/IKE_AUTH (request|response) 1 \[ EF\(1\/\d\) \]/.test(clog), "not fragmented");
              check(s.localId === DN_C && s.remoteId === DN_E, "identities", s);
              await lab.reset();
            }));
        }
      }
    } finally {
      await lab.close();
    }
  },
});
