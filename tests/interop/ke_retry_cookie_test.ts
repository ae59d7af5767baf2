/**
 * Key exchange group retries and cookies with strongSwan:
 *
 * - the initiator's first KE group is one the responder does not take: the
 *   responder answers N(INVALID_KE_PAYLOAD) with its group and the initiator
 *   retries with it (RFC 7296 section 1.2), in IKE_SA_INIT and in the
 *   CREATE_CHILD_SA of a child rekey with PFS (section 1.3), each side being
 *   the one that retries;
 * - the responder is under its cookie threshold: it answers N(COOKIE) and the
 *   initiator repeats IKE_SA_INIT with it (section 2.6), each side being the
 *   responder (charon with `cookie_threshold = 1` and one half-open SA made
 *   with a lone IKE_SA_INIT; we with `cookieThreshold: 0`).
 *
 * ```
 *  initiator ──IKE_SA_INIT {SA KE(ecp256) Ni}──► responder
 *  initiator ◄─IKE_SA_INIT {N(INVALID_KE_PAYLOAD: 31)}── responder
 *  initiator ──IKE_SA_INIT {SA KE(x25519) Ni}──► responder
 *
 *  initiator ──IKE_SA_INIT {SA KE Ni}──► responder
 *  initiator ◄─IKE_SA_INIT {N(COOKIE)}── responder
 *  initiator ──IKE_SA_INIT {N(COOKIE) SA KE Ni}──► responder
 * ```
 *
 * @module
 */
import { parseProposals } from "../../lib/crypto/proposal.ts";
import { parseIdentity } from "../../lib/db/identity.ts";
import { IkeEngine } from "../../lib/ikev2/engine.ts";
import { C4, check, E4, gapConf, GapLab, gapSpec } from "./_gap_lab.ts";

function conf(ike: string, esp: string): string {
  return gapConf([{
    name: "ke",
    localAddrs: C4,
    remoteAddrs: E4,
    ike,
    local: { id: "moon.example.org" },
    remote: { id: "sun.example.org" },
    children: [{ name: "ke-net", localTs: "10.1.0.0/16", remoteTs: "10.2.0.0/16", esp }],
  }], [["moon.example.org", "sun.example.org"]]);
}

/** An IKE_SA_INIT request from a throwaway engine (never completed: a half-open SA for charon). */
function loneInit(): Uint8Array {
  const e = new IkeEngine({
    connections: [{
      name: "x",
      localAddress: E4,
      remoteAddress: C4,
      proposals: parseProposals("aes256gcm16-prfsha256-x25519", "ike"),
      local: { auth: "psk", id: parseIdentity("x.example.org") },
      remote: { auth: "psk", id: parseIdentity("moon.example.org") },
      children: [],
    }],
  });
  const fx = e.initiate("x", Date.now());
  const send = fx.find((f) => f.kind === "send");
  if (send?.kind !== "send") throw new Error("no IKE_SA_INIT");
  return send.bytes;
}

Deno.test({
  name: "strongSwan interop: INVALID_KE_PAYLOAD retries (IKE and PFS) and COOKIE, both roles",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await GapLab.create("k", "cookie_threshold = 1\n  cookie_threshold_ip = 100");
    try {
      // [who initiates, charon's proposals, ours]: the initiator's first group is not taken.
      const cases = [
        ["charon", "aes256gcm16-prfsha256-ecp256-x25519", "aes256gcm16-prfsha256-x25519"],
        ["engine", "aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-ecp256-x25519"],
      ] as const;
      for (const [who, swanIke, ourIke] of cases) {
        await t.step(
          `IKE_SA_INIT: ${who} retries with the group the responder wants`,
          () =>
            lab.withLogs(async () => {
              // PFS: whoever rekeys the child offers ecp256 first, the other takes x25519 only.
              const [swanEsp, ourEsp] = who === "charon"
                ? ["aes256gcm16-ecp256-x25519", "aes256gcm16-x25519"]
                : ["aes256gcm16-x25519", "aes256gcm16-ecp256-x25519"];
              await lab.load(
                conf(swanIke, swanEsp),
                gapSpec({ name: "ke", ike: ourIke, esp: ourEsp }),
              );
              const mark = lab.engine.mark();
              const logMark = await lab.charon.logMark();
              if (who === "engine") await lab.engine.initiate();
              else await lab.charon.initiate("ke", "ke-net");
              await lab.engineUp(mark);
              const s = await lab.charonUp();
              check(s.algorithms.endsWith("/CURVE_25519"), "IKE SA not on x25519", s);
              const log = lab.engine.log(mark);
              if (who === "engine") {
                check(/INVAL(ID)?_KE/.test(log), "we never got INVALID_KE_PAYLOAD", log);
              } else {
                await lab.charon.waitLog(/requested CURVE_25519|INVALID_KE_PAYLOAD/, logMark);
              }
              // Child rekey with PFS from the same side: the first group is refused again.
              const old = s.children[0].spiIn;
              const m2 = lab.engine.mark();
              const lm2 = await lab.charon.logMark();
              if (who === "charon") await lab.charon.rekey("child", "ke-net");
              else await lab.engine.rekeyChild();
              const after = await lab.charon.waitSas(
                (x) =>
                  x.length === 1 &&
                  x[0].children.some((c) => c.state === "INSTALLED" && c.spiIn !== old),
                "a rekeyed child",
              );
              const fresh = after[0].children.find((c) =>
                c.state === "INSTALLED" && c.spiIn !== old
              )!;
              check(fresh.algorithms.endsWith("/CURVE_25519"), "rekey not on x25519", after);
              if (who === "engine") {
                check(
                  /INVAL(ID)?_KE/.test(lab.engine.log(m2)),
                  "no INVALID_KE in the rekey",
                  lab.engine.log(m2),
                );
              } else {
                await lab.charon.waitLog(/INVAL(ID)?_KE|requested CURVE_25519/, lm2);
              }
              await lab.engine.waitFor(
                (o) => o.type === "install" && o.direction === "out" && o.spi === fresh.spiIn,
                m2,
              );
              await lab.reset();
            }),
        );
      }

      await t.step(
        "COOKIE: charon's responder is over its threshold, we retry",
        () =>
          lab.withLogs(async () => {
            await lab.load(
              conf("aes256gcm16-prfsha256-x25519", "aes256gcm16"),
              gapSpec({ name: "ke" }),
            );
            // One half-open SA on charon: a lone IKE_SA_INIT from another port.
            const init = loneInit();
            const py = "import socket,sys;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);" +
              `s.bind(('${E4}',5599));s.sendto(bytes.fromhex(sys.argv[1]),('${C4}',500))`;
            const hex = [...init].map((b) => b.toString(16).padStart(2, "0")).join("");
            const lone = await lab.charon.logMark();
            const r = await lab.lab.runIn(lab.lab.prefix + "e", ["python3", "-c", py, hex]);
            check(r.code === 0, "sending the lone IKE_SA_INIT", r);
            // Half-open now, or (on a loaded machine, where charon's count of the
            // previous step's SAs can lag behind their removal) over the threshold
            // already: it then answers the lone request with a COOKIE itself.
            for (let i = 0;; i++) {
              if ((await lab.charon.sas()).some((s) => s.state === "CONNECTING")) break;
              if ((await lab.charon.log(lone)).includes("response 0 [ N(COOKIE) ]")) break;
              check(i < 100, "charon: neither a half-open SA nor a COOKIE for the lone request");
              await new Promise((r) => setTimeout(r, 100));
            }
            const mark = lab.engine.mark();
            await lab.engine.initiate();
            await lab.engineUp(mark);
            const log = lab.engine.log(mark);
            check(
              /IKE_SA_INIT response 0 \[ N\(COOKIE\) \]/.test(log),
              "charon sent no COOKIE",
              log,
            );
            const s = await lab.charon.waitSas(
              (x) => x.some((s) => s.state === "ESTABLISHED"),
              "an ESTABLISHED SA",
            );
            const ours = (await lab.engine.list()).filter((x) => x.state === "established");
            check(ours.some((o) => s.some((x) => x.spiI === o.spiI)), "SPIs differ", ours, s);
            const m2 = lab.engine.mark();
            await lab.engine.terminate();
            await lab.engine.waitFor((o) => o.type === "event" && o.event === "ike-down", m2);
            await lab.reset();
          }),
      );

      await t.step(
        "COOKIE: our responder demands one, charon retries",
        () =>
          lab.withLogs(async () => {
            await lab.load(
              conf("aes256gcm16-prfsha256-x25519", "aes256gcm16"),
              gapSpec({ name: "ke", cookieThreshold: 0 }),
            );
            const mark = lab.engine.mark();
            const logMark = await lab.charon.logMark();
            await lab.charon.initiate("ke", "ke-net");
            await lab.engineUp(mark);
            await lab.charonUp();
            await lab.charon.waitLog(/IKE_SA_INIT response 0 \[ N\(COOKIE\) \]/, logMark);
            await lab.reset();
          }),
      );
    } finally {
      await lab.close();
    }
  },
});
