/**
 * Site-to-site over IPv6 outer addresses with strongSwan: IKE (ports 500 then
 * 4500) and UDP-encapsulated ESP between fd98::1 and fd98::2, inner traffic
 * selectors of both families in one child SA. Each side initiates once; both
 * must agree on SPIs, addresses and selectors; the other side then rekeys the
 * child SA and the IKE SA over IPv6, and a Delete must clear both.
 *
 * ```
 *  initiator ──IKE_SA_INIT over [fd98::x]:500──► responder
 *  initiator ──IKE_AUTH over [fd98::x]:4500 {TSi 10.x/16 fd0x::/64, TSr ...}──► responder
 * ```
 *
 * @module
 */
import { C6, check, E6, gapConf, GapLab, gapSpec } from "./_gap_lab.ts";

const CONF = gapConf([{
  name: "v6",
  localAddrs: C6,
  remoteAddrs: E6,
  local: { id: "moon.example.org" },
  remote: { id: "sun.example.org" },
  children: [{
    name: "v6-net",
    localTs: "10.1.0.0/16,fd01::/64",
    remoteTs: "10.2.0.0/16,fd02::/64",
  }],
}], [["moon.example.org", "sun.example.org"]]);

const SPEC = gapSpec({
  name: "v6",
  localAddr: E6,
  remoteAddr: C6,
  localTs: ["10.2.0.0/16", "fd02::/64"],
  remoteTs: ["10.1.0.0/16", "fd01::/64"],
});

Deno.test({
  name: "strongSwan interop: IKE and ESP over IPv6 outer addresses, both directions",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await GapLab.create("6");
    try {
      for (const who of ["engine", "charon"] as const) {
        await t.step(`${who} initiates`, () =>
          lab.withLogs(async () => {
            await lab.load(CONF, SPEC);
            const mark = lab.engine.mark();
            if (who === "engine") await lab.engine.initiate();
            else await lab.charon.initiate("v6", "v6-net");
            await lab.engineUp(mark);
            const s = await lab.charonUp();
            const o = (await lab.engine.list()).filter((x) => x.state === "established");
            check(o.length === 1, "engine: expected one IKE SA", o);
            check(s.localAddr === C6 && s.remoteAddr === E6, "charon: wrong outer addresses", s);
            check(s.localPort === 4500 && s.remotePort === 4500, "IKE not on 4500", s);
            check(o[0].spiI === s.spiI && o[0].spiR === s.spiR, "IKE SPIs differ", o, s);
            const [oc, sc] = [o[0].children[0], s.children[0]];
            check(oc.spiIn === sc.spiOut && oc.spiOut === sc.spiIn, "ESP SPIs differ", o, s);
            check(
              sc.localTs.join() === "10.1.0.0/16,fd01::/64" &&
                sc.remoteTs.join() === "10.2.0.0/16,fd02::/64",
              "charon's selectors",
              s,
            );
            check(
              oc.localTs?.join() === "10.2.0.0/16,fd02::/64" &&
                oc.remoteTs?.join() === "10.1.0.0/16,fd01::/64",
              "our selectors",
              o,
            );
            // Rekeys over IPv6 from the other side: child SA, then IKE SA.
            const other = who === "engine" ? "charon" : "engine";
            let m = lab.engine.mark();
            if (other === "charon") await lab.charon.rekey("child", "v6-net");
            else await lab.engine.rekeyChild();
            await lab.engine.waitFor((x) => x.type === "remove" && x.spi === oc.spiOut, m);
            const s2 = (await lab.charon.waitSas(
              (x) =>
                x.length === 1 &&
                x[0].children.some((c) => c.state === "INSTALLED" && c.spiIn !== sc.spiIn),
              "a rekeyed child SA",
            ))[0];
            m = lab.engine.mark();
            if (other === "charon") await lab.charon.rekey("ike", "v6");
            else await lab.engine.rekeyIke();
            await lab.engine.waitFor((x) => x.type === "event" && x.event === "ike-rekeyed", m);
            const s3 = (await lab.charon.waitSas(
              (x) => x.length === 1 && x[0].state === "ESTABLISHED" && x[0].spiI !== s2.spiI,
              "a rekeyed IKE SA",
            ))[0];
            const o3 = (await lab.engine.list()).filter((x) => x.state === "established");
            check(o3.length === 1 && o3[0].spiI === s3.spiI, "IKE SPIs after the rekey", o3, s3);
            check(s3.localAddr === C6 && s3.remoteAddr === E6, "rekeyed SA left IPv6", s3);
            const m2 = lab.engine.mark();
            if (who === "engine") await lab.charon.terminate("v6");
            else await lab.engine.terminate();
            await lab.engine.waitFor((x) => x.type === "event" && x.event === "ike-down", m2);
            await lab.charon.waitSas((x) => x.length === 0, "no SAs after the Delete");
          }));
      }
    } finally {
      await lab.close();
    }
  },
});
