/**
 * Several child SAs in one IKE SA with strongSwan, with either side owning the
 * IKE SA: charon adds a second child (CREATE_CHILD_SA), charon deletes it
 * (`swanctl --terminate --child`), we add it again, we delete the first one,
 * and `swanctl --terminate --ike` takes the rest down.
 *
 * ```
 *  charon ──CREATE_CHILD_SA {SA Ni [KEi] TSi TSr}──► us     (second child)
 *  charon ──INFORMATIONAL {D(ESP spi)}─────────────► us     (--terminate --child)
 *  us ─────CREATE_CHILD_SA {SA Ni TSi TSr}─────────► charon
 *  us ─────INFORMATIONAL {D(ESP spi)}──────────────► charon
 *  charon ──INFORMATIONAL {D(IKE)}─────────────────► us     (--terminate --ike)
 * ```
 *
 * @module
 */
import { C4, check, E4, gapConf, GapLab, gapSpec } from "./_gap_lab.ts";

const CONF = gapConf([{
  name: "mc",
  localAddrs: C4,
  remoteAddrs: E4,
  local: { id: "moon.example.org" },
  remote: { id: "sun.example.org" },
  children: [
    { name: "mc-net", localTs: "10.1.0.0/24", remoteTs: "10.2.0.0/24" },
    { name: "mc-two", localTs: "10.1.2.0/24", remoteTs: "10.2.2.0/24" },
  ],
}], [["moon.example.org", "sun.example.org"]]);

const SPEC = gapSpec({
  name: "mc",
  localTs: ["10.2.0.0/24"],
  remoteTs: ["10.1.0.0/24"],
  moreChildren: [{ name: "mc-two", localTs: ["10.2.2.0/24"], remoteTs: ["10.1.2.0/24"] }],
});

Deno.test({
  name: "strongSwan interop: several child SAs per IKE SA, created and deleted by either side",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await GapLab.create("m");
    try {
      for (const who of ["engine", "charon"] as const) {
        await t.step(`${who} owns the IKE SA`, () =>
          lab.withLogs(async () => {
            await lab.load(CONF, SPEC);
            let mark = lab.engine.mark();
            if (who === "engine") await lab.engine.initiate();
            else await lab.charon.initiate("mc", "mc-net");
            await lab.engineUp(mark);
            // The two views must agree child by child (by SPI) and on the selectors.
            const agree = async (n: number, names: string[]) => {
              const s = await lab.charonUp(n);
              const o = (await lab.engine.list()).filter((x) => x.state === "established");
              check(o.length === 1 && o[0].spiI === s.spiI, "one IKE SA each", o, s);
              const ours = o[0].children.filter((c) => c.state === "installed");
              check(ours.length === n, `engine: expected ${n} children`, o);
              for (const sc of s.children) {
                const oc = ours.find((c) => c.spiIn === sc.spiOut && c.spiOut === sc.spiIn);
                check(!!oc, `no matching child for ${sc.name}`, o, s);
                check(
                  oc!.localTs?.join() === sc.remoteTs.join() &&
                    oc!.remoteTs?.join() === sc.localTs.join(),
                  "selectors differ",
                  o,
                  s,
                );
              }
              check(
                s.children.map((c) => c.name).sort().join() === names.sort().join(),
                "charon's child names",
                s,
              );
            };
            // Our initiate() brings up every child of the connection, charon's only the one named.
            if (who === "charon") {
              await agree(1, ["mc-net"]);
              mark = lab.engine.mark();
              await lab.charon.initiate("mc", "mc-two");
              await lab.engineUp(mark);
            }
            await agree(2, ["mc-net", "mc-two"]);

            const charonDeletesTwo = async () => {
              mark = lab.engine.mark();
              const r = await lab.charon.swanctl(["--terminate", "--child", "mc-two"]);
              check(r.code === 0, "swanctl --terminate --child", r);
              await lab.engine.waitFor((o) => o.type === "event" && o.event === "child-down", mark);
              await agree(1, ["mc-net"]);
            };
            await charonDeletesTwo();
            if (who === "engine") {
              // charon adds a child to the IKE SA we initiated.
              mark = lab.engine.mark();
              await lab.charon.initiate("mc", "mc-two");
              await lab.engineUp(mark);
              await agree(2, ["mc-net", "mc-two"]);
              await charonDeletesTwo();
            }

            mark = lab.engine.mark();
            await lab.engine.createChild("mc-two");
            await lab.engineUp(mark);
            await agree(2, ["mc-net", "mc-two"]);

            // IKE rekeys with two children, by each side: both children move over unchanged.
            for (const rekeyer of ["charon", "engine"] as const) {
              const before = await lab.charonUp(2);
              const liveSpis = before.children.flatMap((c) => [c.spiIn, c.spiOut]);
              mark = lab.engine.mark();
              if (rekeyer === "charon") await lab.charon.rekey("ike", "mc");
              else await lab.engine.rekeyIke();
              await lab.engine.waitFor(
                (o) => o.type === "event" && o.event === "ike-rekeyed",
                mark,
              );
              await lab.charon.waitSas(
                (s) => s.length === 1 && s[0].state === "ESTABLISHED" && s[0].spiI !== before.spiI,
                "the rekeyed IKE SA",
              );
              await agree(2, ["mc-net", "mc-two"]);
              // (Inbound SAs of children deleted earlier may leave with the old IKE SA.)
              const removedByRekey = lab.engine.since(mark)
                .filter((o) => o.type === "remove" && liveSpis.includes(`${o.spi}`));
              check(removedByRekey.length === 0, "an IKE rekey removed child SAs", removedByRekey);
            }

            mark = lab.engine.mark();
            await lab.engine.closeChild("mc-net");
            await lab.engine.waitFor((o) => o.type === "event" && o.event === "child-down", mark);
            await agree(1, ["mc-two"]);

            // charon deletes the last child: the IKE SA stays, and charon can add one again.
            mark = lab.engine.mark();
            const r1 = await lab.charon.swanctl(["--terminate", "--child", "mc-two"]);
            check(r1.code === 0, "swanctl --terminate --child", r1);
            await lab.engine.waitFor((o) => o.type === "event" && o.event === "child-down", mark);
            await lab.charon.waitSas(
              (s) => s.length === 1 && s[0].state === "ESTABLISHED" && s[0].children.length === 0,
              "an IKE SA without children",
            );
            check(
              (await lab.engine.list()).filter((x) => x.state === "established").length === 1,
              "we dropped the IKE SA with its last child",
            );
            mark = lab.engine.mark();
            await lab.charon.initiate("mc", "mc-net");
            await lab.engineUp(mark);
            await agree(1, ["mc-net"]);

            const live = (await lab.engine.list()).flatMap((x) => x.children)
              .filter((c) => c.state === "installed").flatMap((c) => [c.spiIn, c.spiOut]);
            mark = lab.engine.mark();
            const r2 = await lab.charon.terminate("mc");
            check(r2.code === 0, "swanctl --terminate --ike", r2);
            await lab.engine.waitFor((o) => o.type === "event" && o.event === "ike-down", mark);
            await lab.charon.waitSas((s) => s.length === 0, "no SAs");
            const left = (await lab.engine.list()).filter((x) => x.state === "established");
            check(left.length === 0, "engine kept SAs", left);
            const removed = lab.engine.since(mark).filter((o) => o.type === "remove")
              .map((o) => `${o.spi}`);
            check(live.every((spi) => removed.includes(spi)), "SAs not removed", live, removed);
          }));
      }
      await t.step(
        "charon starts a childless IKE SA (no SA/TS in IKE_AUTH), then children",
        () =>
          lab.withLogs(async () => {
            const conf = CONF.replace("encap = yes", "encap = yes\n    childless = force");
            await lab.load(conf, SPEC);
            const mark = lab.engine.mark();
            const logMark = await lab.charon.logMark();
            const r = await lab.charon.swanctl(["--initiate", "--ike", "mc", "--timeout", "10"]);
            check(r.code === 0, "swanctl --initiate --ike", r);
            await lab.engine.waitFor((o) => o.type === "event" && o.event === "ike-up", mark);
            await lab.charon.waitLog(/IKE_AUTH response 1 \[ IDr AUTH N\(MOBIKE_SUP\)/, logMark);
            for (const child of ["mc-net", "mc-two"]) {
              const m = lab.engine.mark();
              await lab.charon.initiate("mc", child);
              await lab.engineUp(m);
            }
            await lab.charonUp(2);
            await lab.reset();
          }),
      );
    } finally {
      await lab.close();
    }
  },
});
