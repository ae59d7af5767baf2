/**
 * `inactivity` end to end in network namespaces: a's child `net` has
 * `inactivity: 3s`. While pings flow through the tunnel the child SA stays
 * up past that time; once they stop, a closes it with its IKE SA (its last
 * child, as charon does) and b sees both go. Needs root; namespaces are
 * prefixed `tin-` (random suffix) and always deleted.
 *
 * ```
 *  tin-a: va 192.0.2.1/24, lo 10.1.0.1 ── vb 192.0.2.2/24, lo 10.2.0.1 :tin-b
 * ```
 */
import assert from "node:assert/strict";
import { NetnsLab, run } from "../helpers/netns.ts";
import { IPSEC, ok, siteYaml, startDaemonIn, waitFor } from "../helpers/netns_daemons.ts";

Deno.test({
  name: "inactivity (netns): an idle child SA is closed with its IKE SA, a busy one stays",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lab = await NetnsLab.create("tin-");
    const dir = await Deno.makeTempDir({ prefix: "tin-" });
    const sockets: string[] = [];
    try {
      const a = await lab.addNs("a");
      const b = await lab.addNs("b");
      await lab.veth(a, "va", "192.0.2.1/24", b, "vb", "192.0.2.2/24");
      ok(await lab.runIn(a, ["ip", "addr", "add", "10.1.0.1/32", "dev", "lo"]), "a: lo address");
      ok(await lab.runIn(b, ["ip", "addr", "add", "10.2.0.1/32", "dev", "lo"]), "b: lo address");
      const A = await startDaemonIn(lab, a, dir, "a", siteYaml("a", "inactivity: 3s"));
      sockets.push(A.socket);
      const B = await startDaemonIn(lab, b, dir, "b", siteYaml("b"));
      sockets.push(B.socket);
      const why = () => `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}`;
      const ikeSas = async (d: typeof A) =>
        (JSON.parse(ok(await d.ipsec(["list-sas", "--json"]), "list-sas")) as unknown[]).length;

      ok(await A.ipsec(["up", "site", "--timeout", "15"]), `ipsec up${why()}`);
      // Busy: one ping every 0.5 s for 6 s, twice the limit; the SA stays up.
      const ping = await lab.runIn(a, [
        "ping",
        "-c",
        "12",
        "-i",
        "0.5",
        "-W",
        "1",
        "-I",
        "10.1.0.1",
        "10.2.0.1",
      ]);
      assert.equal(ping.code, 0, `pings through the tunnel:\n${ping.stdout}${why()}`);
      assert.equal(await ikeSas(A), 1, `a closed a busy SA${why()}`);
      assert.ok(!/of inactivity/.test(A.log()), why());
      // Idle: within a few seconds of the limit, a closes it and b follows.
      await waitFor(async () => (await ikeSas(A)) === 0 && (await ikeSas(B)) === 0, why, 12);
      assert.match(
        A.log(),
        /closing CHILD_SA site\/net #\d+ after 3s of inactivity, with its IKE_SA/,
      );
      // The IKE SA's end carries the reason (RADIUS accounting: Idle-Timeout).
      await waitFor(
        () => Promise.resolve(/IKE_SA deleted: closed after 3s of inactivity/.test(A.log())),
        why,
        5,
      );
    } finally {
      for (const s of sockets) await run([...IPSEC, "stop", "--socket", s]).catch(() => {});
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
