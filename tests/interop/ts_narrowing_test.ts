/**
 * Traffic selector narrowing with strongSwan (RFC 7296 section 2.9), each side
 * initiating: charon asks for wider selectors than we allow, we ask for wider
 * ones than charon allows, several subnets per side in one child SA, a
 * protocol/port selector, an address range, ICMP types, IPv6, and disjoint
 * selectors, which must fail the child with TS_UNACCEPTABLE while the IKE SA
 * stays up. Every narrowed child is then rekeyed by the other side, which must
 * keep the narrowed selectors.
 *
 * ```
 *  initiator ──IKE_AUTH {SA TSi(wide) TSr(wide)}──► responder
 *  initiator ◄─IKE_AUTH {SA TSi(narrowed) TSr(narrowed)}── responder
 *  initiator ◄─IKE_AUTH {N(TS_UNACCEPTABLE)}──── responder   (no overlap)
 * ```
 *
 * @module
 */
import { C4, check, E4, gapConf, GapLab, gapSpec } from "./_gap_lab.ts";

interface TsCase {
  name: string;
  charonLocal: string;
  charonRemote: string;
  engineLocal: string[];
  engineRemote: string[];
  /** What both sides must end with, from charon's point of view; undefined: TS_UNACCEPTABLE. */
  expect?: { local: string[]; remote: string[] };
}

const CASES: TsCase[] = [
  {
    name: "charonwide",
    charonLocal: "10.0.0.0/8",
    charonRemote: "10.0.0.0/8",
    engineLocal: ["10.2.0.0/16"],
    engineRemote: ["10.1.0.0/16"],
    expect: { local: ["10.1.0.0/16"], remote: ["10.2.0.0/16"] },
  },
  {
    name: "oursewide",
    charonLocal: "10.1.0.0/16",
    charonRemote: "10.2.0.0/16",
    engineLocal: ["10.0.0.0/8"],
    engineRemote: ["0.0.0.0/0"],
    expect: { local: ["10.1.0.0/16"], remote: ["10.2.0.0/16"] },
  },
  {
    name: "multi",
    charonLocal: "10.1.0.0/24,10.1.2.0/24,10.9.0.0/16",
    charonRemote: "10.2.0.0/24,10.2.5.0/24",
    engineLocal: ["10.2.0.0/16", "10.3.0.0/16"],
    engineRemote: ["10.1.0.0/16"],
    expect: { local: ["10.1.0.0/24", "10.1.2.0/24"], remote: ["10.2.0.0/24", "10.2.5.0/24"] },
  },
  {
    name: "port",
    charonLocal: "10.1.0.0/16[tcp/80]",
    charonRemote: "10.2.0.0/16[tcp]",
    engineLocal: ["10.2.0.0/16"],
    engineRemote: ["10.1.0.0/16"],
    expect: { local: ["10.1.0.0/16[tcp/http]"], remote: ["10.2.0.0/16[tcp]"] },
  },
  {
    name: "range",
    charonLocal: "10.1.0.5-10.1.0.20",
    charonRemote: "10.2.0.0/16[udp/1000-2000]",
    engineLocal: ["10.2.0.0/16"],
    engineRemote: ["10.1.0.0/16"],
    expect: { local: ["10.1.0.5..10.1.0.20"], remote: ["10.2.0.0/16[udp/1000-2000]"] },
  },
  {
    name: "icmp",
    charonLocal: "10.1.0.0/16[icmp/8]",
    charonRemote: "10.2.0.0/16[icmp/8]",
    // Ours: type 8, any code; charon's "[icmp/8]" is type 8 code 0 (0x0800 on the wire).
    engineLocal: ["10.2.0.0/16[icmp/8]"],
    engineRemote: ["10.1.0.0/16[icmp/8]"],
    expect: { local: ["10.1.0.0/16[icmp/8]"], remote: ["10.2.0.0/16[icmp/8]"] },
  },
  {
    name: "v6",
    charonLocal: "fd01::/64,10.1.0.0/16",
    charonRemote: "fd02::/48",
    engineLocal: ["fd02:0:0:5::/64"],
    engineRemote: ["fd01::/32"],
    expect: { local: ["fd01::/64"], remote: ["fd02:0:0:5::/64"] },
  },
  {
    name: "disjoint",
    charonLocal: "10.1.0.0/16",
    charonRemote: "10.2.0.0/16",
    engineLocal: ["10.2.0.0/16"],
    engineRemote: ["10.7.0.0/16"],
  },
];

Deno.test({
  name: "strongSwan interop: traffic selector narrowing, several subnets, TS_UNACCEPTABLE",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await GapLab.create("t");
    try {
      for (const c of CASES) {
        for (const who of ["engine", "charon"] as const) {
          await t.step(`${c.name}: ${who} initiates`, () =>
            lab.withLogs(async () => {
              const conf = gapConf([{
                name: c.name,
                localAddrs: C4,
                remoteAddrs: E4,
                local: { id: "moon.example.org" },
                remote: { id: "sun.example.org" },
                children: [{
                  name: `${c.name}-net`,
                  localTs: c.charonLocal,
                  remoteTs: c.charonRemote,
                }],
              }], [["moon.example.org", "sun.example.org"]]);
              await lab.load(
                conf,
                gapSpec({ name: c.name, localTs: c.engineLocal, remoteTs: c.engineRemote }),
              );
              const mark = lab.engine.mark();
              const logMark = await lab.charon.logMark();
              if (who === "engine") await lab.engine.initiate();
              else await lab.charon.initiate(c.name, `${c.name}-net`).catch(() => {});
              if (!c.expect) {
                const ev = await lab.engine.waitFor(
                  (o) =>
                    o.type === "event" &&
                    /^(child-up|child-failed|ike-failed|ike-down)$/.test(`${o.event}`),
                  mark,
                );
                if (who === "engine") {
                  check(ev.event === "child-failed", "expected child-failed", ev);
                  check(/TS_UNACCEPTABLE/.test(`${ev.reason}`), "reason", ev);
                  await lab.charon.waitLog(
                    /TS_UNACCEPT|traffic selectors .* unacceptable/,
                    logMark,
                  );
                } else {
                  // We answer N(TS_UNACCEPTABLE); charon must not install a child.
                  check(ev.event !== "child-up", "we installed a child", ev);
                  await lab.charon.waitLog(/TS_UNACCEPTABLE/, logMark);
                }
                const s = await lab.charon.sas();
                check(s.every((x) => x.children.length === 0), "charon has a child", s);
                await lab.reset();
                return;
              }
              await lab.engineUp(mark);
              const s = await lab.charonUp();
              const sc = s.children[0];
              check(
                sc.localTs.join() === c.expect.local.join() &&
                  sc.remoteTs.join() === c.expect.remote.join(),
                `charon's selectors, expected ${JSON.stringify(c.expect)}`,
                s,
              );
              const o = (await lab.engine.list()).filter((x) => x.state === "established");
              const oc = o[0].children[0];
              check(oc.spiIn === sc.spiOut, "SPIs differ", o, s);
              const norm = (l: string[] | undefined) =>
                (l ?? []).map((x) =>
                  x.replace("[tcp/80]", "[tcp/http]").replace("[icmp/type 8 code 0]", "[icmp/8]")
                    .replace(/^([0-9.]+)-([0-9.]+)/, "$1..$2")
                ).join();
              check(
                norm(oc.localTs) === c.expect.remote.join() &&
                  norm(oc.remoteTs) === c.expect.local.join(),
                "our selectors differ from charon's",
                o,
                s,
              );
              // A child rekey by the other side must keep the narrowed selectors on both.
              const old = sc.spiIn;
              const m2 = lab.engine.mark();
              if (who === "engine") await lab.charon.rekey("child", `${c.name}-net`);
              else await lab.engine.rekeyChild();
              const s2 = (await lab.charon.waitSas(
                (x) =>
                  x.length === 1 &&
                  x[0].children.some((ch) => ch.state === "INSTALLED" && ch.spiIn !== old),
                "the rekeyed child",
              ))[0];
              const sc2 = s2.children.find((ch) => ch.state === "INSTALLED" && ch.spiIn !== old)!;
              check(
                sc2.localTs.join() === c.expect.local.join() &&
                  sc2.remoteTs.join() === c.expect.remote.join(),
                "charon's selectors changed in the rekey",
                s2,
              );
              await lab.engine.waitFor(
                (x) => x.type === "install" && x.direction === "out" && x.spi === sc2.spiIn,
                m2,
              );
              const o2 = (await lab.engine.list()).flatMap((x) => x.children)
                .find((ch) => ch.spiOut === sc2.spiIn);
              check(
                norm(o2?.localTs) === c.expect.remote.join() &&
                  norm(o2?.remoteTs) === c.expect.local.join(),
                "our selectors changed in the rekey",
                o2,
                s2,
              );
              await lab.reset();
            }));
        }
      }
      // Our first child is wide, the second is exactly what charon's second child asks for:
      // we must answer with the second config (strongSwan's select_child_cfg ranking).
      await t.step(
        "charon's CREATE_CHILD_SA gets the best-matching child config",
        () =>
          lab.withLogs(async () => {
            const conf = gapConf([{
              name: "cc",
              localAddrs: C4,
              remoteAddrs: E4,
              local: { id: "moon.example.org" },
              remote: { id: "sun.example.org" },
              children: [
                { name: "cc-net", localTs: "10.1.0.0/24", remoteTs: "10.2.0.0/24" },
                { name: "cc-two", localTs: "10.1.2.0/24", remoteTs: "10.2.5.0/24" },
                { name: "cc-wide", localTs: "10.1.2.0/23", remoteTs: "10.2.4.0/22" },
              ],
            }], [["moon.example.org", "sun.example.org"]]);
            await lab.load(
              conf,
              gapSpec({
                name: "cc",
                localTs: ["10.2.0.0/16"],
                remoteTs: ["10.1.0.0/16"],
                moreChildren: [{
                  name: "cc-two",
                  localTs: ["10.2.5.0/24"],
                  remoteTs: ["10.1.2.0/24"],
                }],
              }),
            );
            let mark = lab.engine.mark();
            await lab.charon.initiate("cc", "cc-net");
            await lab.engineUp(mark);
            // cc-two is exactly our second child; cc-wide lies within our first child only
            // (it overlaps the second but is not inside it): each gets the better fit.
            for (const [name, ours] of [["cc-two", "cc-two"], ["cc-wide", "cc-net"]]) {
              mark = lab.engine.mark();
              await lab.charon.initiate("cc", name);
              const up = await lab.engineUp(mark);
              check(up.childName === ours, `${name}: we answered with ${up.childName}`, up);
            }
            const s = await lab.charonUp(3);
            const wide = s.children.find((c) => c.name === "cc-wide")!;
            check(
              wide.localTs.join() === "10.1.2.0/23" && wide.remoteTs.join() === "10.2.4.0/22",
              "charon's cc-wide was narrowed although our first child takes it whole",
              s,
            );
            await lab.reset();
          }),
      );
    } finally {
      await lab.close();
    }
  },
});
