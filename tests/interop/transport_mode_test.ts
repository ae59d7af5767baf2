/**
 * Transport mode negotiation with strongSwan (RFC 7296 section 1.3.1): the
 * initiator sends N(USE_TRANSPORT_MODE) with its child SA; a responder that
 * takes it echoes the notify, one that does not answers without it (tunnel).
 * Each side initiates, with either side configured for transport. Both sides
 * must end with the same mode (or, where charon refuses to fall back, with no
 * child SA at all) and selectors that are the two IKE addresses.
 *
 * charon's userspace data plane (kernel-libipsec) only does tunnel mode, so
 * for transport SAs charon's installation fails after the negotiation; the
 * test then checks the exchange itself from charon's log ("N(USE_TRANSP)"
 * in the message it parsed) and that we installed a transport SA.
 *
 * ```
 *  initiator ──IKE_AUTH {... N(USE_TRANSPORT_MODE) SA TSi TSr}──► responder
 *  initiator ◄─IKE_AUTH {... N(USE_TRANSPORT_MODE) SA TSi TSr}─── responder  (accepted)
 * ```
 *
 * @module
 */
import { C4, check, E4, gapConf, GapLab, gapSpec } from "./_gap_lab.ts";

type Mode = "tunnel" | "transport";

function conf(mode: Mode): string {
  return gapConf([{
    name: "tm",
    localAddrs: C4,
    remoteAddrs: E4,
    local: { id: "moon.example.org" },
    remote: { id: "sun.example.org" },
    children: [{
      name: "tm-net",
      localTs: "dynamic",
      remoteTs: "dynamic",
      extra: [`mode = ${mode}`],
    }],
  }], [["moon.example.org", "sun.example.org"]]);
}

Deno.test({
  name: "strongSwan interop: USE_TRANSPORT_MODE negotiation, each side initiating",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await GapLab.create("x");
    try {
      // [initiator, charon's mode, our mode]
      const cases: ["engine" | "charon", Mode, Mode][] = [
        ["charon", "transport", "transport"],
        ["engine", "transport", "transport"],
        ["charon", "transport", "tunnel"],
        ["engine", "tunnel", "transport"],
        ["charon", "tunnel", "transport"],
      ];
      for (const [who, swan, ours] of cases) {
        await t.step(
          `${who} initiates, charon ${swan}, we ${ours}`,
          () =>
            lab.withLogs(async () => {
              await lab.load(
                conf(swan),
                gapSpec({ name: "tm", mode: ours, localTs: ["dynamic"], remoteTs: ["dynamic"] }),
              );
              const mark = lab.engine.mark();
              const logMark = await lab.charon.logMark();
              if (who === "engine") await lab.engine.initiate();
              else await lab.charon.initiate("tm", "tm-net").catch(() => {});
              const ev = await lab.engine.waitFor(
                (o) =>
                  o.type === "event" && /^(child-up|child-failed|ike-failed)$/.test(`${o.event}`),
                mark,
              );
              // What was negotiated on the wire: did the responder echo USE_TRANSPORT_MODE?
              await lab.charon.waitLog(/IKE_AUTH response 1/, logMark);
              // charon's [ESP] lines may land in the file a moment after its IKE lines.
              await new Promise((r) => setTimeout(r, 300));
              const clog = await lab.charon.log(logMark);
              const authLines = clog.split("\n").filter((l) =>
                /IKE_AUTH (request|response) 1/.test(l)
              );
              const inRequest = authLines.some((l) => /request 1 .*N\(USE_TRANSP\)/.test(l));
              const inResponse = authLines.some((l) => /response 1 .*N\(USE_TRANSP\)/.test(l));
              const initiatorMode = who === "charon" ? swan : ours;
              const responderMode = who === "charon" ? ours : swan;
              check(
                inRequest === (initiatorMode === "transport"),
                "USE_TRANSPORT_MODE in the request must follow the initiator's config",
                authLines,
              );
              // kernel-libipsec refuses transport SAs: charon then answers NO_PROPOSAL_CHOSEN
              // as responder, or deletes the child as initiator; only the negotiation counts.
              const libipsecRefused = /IPsec SA: unsupported mode/.test(clog);
              check(
                inResponse === (inRequest && responderMode === "transport") ||
                  (libipsecRefused && who === "engine"),
                "the responder must echo USE_TRANSPORT_MODE exactly when it takes transport mode",
                authLines,
              );
              const agreed: Mode = inResponse ? "transport" : "tunnel";
              const installs = lab.engine.since(mark).filter((x) => x.type === "install");
              if (ev.event === "child-up") {
                check(
                  installs.length === 2 && installs.every((x) => x.mode === agreed),
                  `we installed another mode than the negotiated ${agreed}`,
                  installs,
                );
                // An initiator configured for transport must not run a tunnel (RFC 7296
                // section 1.3.1: it deletes the SA); a responder falls back to what was asked.
                if (who === "engine") check(agreed === ours, "we accepted another mode", installs);
              } else {
                check(installs.length === 0, "SAs installed for a failed child", installs);
                const charonNoProp = authLines.some((l) => /response 1 .*N\(NO_PROP\)/.test(l));
                check(
                  who === "engine" && (agreed !== ours || charonNoProp),
                  `the child failed: ${ev.event} ${ev.reason}`,
                  ev,
                );
              }
              await lab.reset();
            }),
        );
      }
      // A second child we want in transport mode; charon (tunnel) answers without
      // USE_TRANSPORT_MODE and installs a tunnel: we must delete it (RFC 7296 section 1.3.1).
      await t.step(
        "we add a transport child by CREATE_CHILD_SA, charon answers tunnel",
        () =>
          lab.withLogs(async () => {
            const conf2 = gapConf([{
              name: "tm",
              localAddrs: C4,
              remoteAddrs: E4,
              local: { id: "moon.example.org" },
              remote: { id: "sun.example.org" },
              children: [
                { name: "tm-net", localTs: "10.1.0.0/24", remoteTs: "10.2.0.0/24" },
                { name: "tm-two", localTs: "10.1.2.0/24", remoteTs: "10.2.2.0/24" },
              ],
            }], [["moon.example.org", "sun.example.org"]]);
            await lab.load(
              conf2,
              gapSpec({
                name: "tm",
                localTs: ["10.2.0.0/24"],
                remoteTs: ["10.1.0.0/24"],
                moreChildren: [{
                  name: "tm-two",
                  mode: "transport",
                  localTs: ["10.2.2.0/24"],
                  remoteTs: ["10.1.2.0/24"],
                }],
              }),
            );
            const mark = lab.engine.mark();
            const logMark = await lab.charon.logMark();
            // initiate() brings up tm-net in IKE_AUTH, then tm-two by CREATE_CHILD_SA.
            await lab.engine.initiate();
            await lab.engineUp(mark);
            const failed = await lab.engine.waitFor(
              (o) => o.type === "event" && o.event === "child-failed",
              mark,
            );
            check(/transport/.test(`${failed.reason}`), "reason", failed);
            await lab.charon.waitLog(/CREATE_CHILD_SA request \d+ \[ N\(USE_TRANSP\)/, logMark);
            // charon installed tm-two as a tunnel; our Delete must take it away again.
            await lab.charon.waitLog(
              /closing CHILD_SA tm-two|received DELETE for ESP CHILD_SA/,
              logMark,
            );
            const s = await lab.charonUp(1);
            check(s.children[0].name === "tm-net", "charon kept the refused child", s);
            await lab.reset();
          }),
      );
    } finally {
      await lab.close();
    }
  },
});
