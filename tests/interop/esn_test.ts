/**
 * Extended sequence numbers (ESN transform, RFC 7296 section 3.3.2, RFC 4304)
 * negotiated with strongSwan, each side initiating: ESN only on both sides,
 * ESN or not on one side against no ESN on the other, and ESN only against
 * no ESN, which must fail the child with NO_PROPOSAL_CHOSEN. When both agree,
 * charon's `--list-sas` must show the same ESN choice as our installed SA.
 * kernel-libipsec cannot install ESN SAs ("IPsec SA: ESN not supported"), so
 * where ESN is chosen only the negotiation is checked: charon picked ESN, and
 * as responder we installed our SAs with ESN.
 *
 * @module
 */
import { C4, check, E4, gapConf, GapLab, gapSpec } from "./_gap_lab.ts";

interface EsnCase {
  swan: string;
  ours: string;
  /** Negotiated ESN, or undefined when the child must fail. */
  esn?: boolean;
}

const CASES: EsnCase[] = [
  { swan: "aes256gcm16-esn", ours: "aes256gcm16-esn", esn: true },
  { swan: "aes256gcm16-esn-noesn", ours: "aes256gcm16", esn: false },
  { swan: "aes256gcm16", ours: "aes256gcm16-esn-noesn", esn: false },
  { swan: "aes256gcm16-noesn-esn", ours: "aes256gcm16-esn", esn: true },
  { swan: "aes256gcm16-esn", ours: "aes256gcm16-noesn" },
];

Deno.test({
  name: "strongSwan interop: ESN negotiation, each side initiating",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await GapLab.create("n");
    try {
      for (const c of CASES) {
        for (const who of ["engine", "charon"] as const) {
          await t.step(
            `charon ${c.swan}, we ${c.ours}: ${who} initiates`,
            () =>
              lab.withLogs(async () => {
                const conf = gapConf([{
                  name: "es",
                  localAddrs: C4,
                  remoteAddrs: E4,
                  local: { id: "moon.example.org" },
                  remote: { id: "sun.example.org" },
                  children: [{
                    name: "es-net",
                    localTs: "10.1.0.0/16",
                    remoteTs: "10.2.0.0/16",
                    esp: c.swan,
                  }],
                }], [["moon.example.org", "sun.example.org"]]);
                await lab.load(conf, gapSpec({ name: "es", esp: c.ours }));
                const mark = lab.engine.mark();
                const logMark = await lab.charon.logMark();
                if (who === "engine") await lab.engine.initiate();
                else await lab.charon.initiate("es", "es-net").catch(() => {});
                const ev = await lab.engine.waitFor(
                  (o) =>
                    o.type === "event" && /^(child-up|child-failed|ike-failed)$/.test(`${o.event}`),
                  mark,
                );
                if (c.esn === undefined) {
                  check(ev.event !== "child-up", "a child came up without a common ESN choice", ev);
                  const s = await lab.charon.sas();
                  check(s.every((x) => x.children.length === 0), "charon has a child", s);
                } else if (c.esn) {
                  // kernel-libipsec cannot install ESN SAs: charon chose ESN (its SAD refuses
                  // it); as responder we must have installed our half with ESN.
                  await lab.charon.waitLog(/IPsec SA: ESN not supported/, logMark);
                  if (who === "charon") {
                    check(ev.event === "child-up", `child failed: ${ev.reason}`, ev);
                    const installs = lab.engine.since(mark).filter((x) => x.type === "install");
                    check(
                      installs.length === 2 && installs.every((x) => x.esn === true),
                      "we did not install both SAs with ESN",
                      installs,
                    );
                  }
                } else {
                  check(ev.event === "child-up", `child failed: ${ev.reason}`, ev);
                  const s = await lab.charonUp();
                  const sc = s.children[0];
                  check(
                    sc.algorithms.includes("/ESN") === c.esn,
                    `charon: ESN must be ${c.esn}`,
                    s,
                  );
                  const sa = await lab.engine.list();
                  const oc = sa[0].children[0];
                  check(oc.spiIn === sc.spiOut, "SPIs differ", sa, s);
                  check(oc.esn === c.esn, `engine: ESN must be ${c.esn}`, sa);
                }
                await lab.reset();
              }),
          );
        }
      }
    } finally {
      await lab.close();
    }
  },
});
