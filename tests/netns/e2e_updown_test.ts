/**
 * `updown` scripts end to end in network namespaces: two of our daemons
 * (site-to-site PSK, 10.1.0.0/16 <-> 10.2.0.0/16), each child with an
 * `updown` script (named relative to the config file) that appends
 * `env | grep ^PLUTO_ | sort` and a separator to a file. `ipsec up` runs one
 * up-client on each side with the SA's addresses, identities, selectors,
 * reqid and TUN; `ipsec rekey --child` (CREATE_CHILD_SA) runs nothing, as in
 * charon; `ipsec down` runs down-client on both sides with the same reqid;
 * `ipsec stop` with the SA up again runs down-client too. Needs root;
 * namespaces are prefixed `tud-` (random suffix) and always deleted.
 *
 * ```
 *  tud-a: va 192.0.2.1/24 ── vb 192.0.2.2/24 :tud-b
 * ```
 */
import assert from "node:assert/strict";
import { NetnsLab, run } from "../helpers/netns.ts";
import { IPSEC, ok, siteYaml, startDaemonIn, waitFor } from "../helpers/netns_daemons.ts";

/** The PLUTO_* blocks the script wrote, one map per run. */
async function runs(file: string): Promise<Map<string, string>[]> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return text.split("---\n").filter((b) => b.trim() !== "").map((b) =>
    new Map(
      b.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    )
  );
}

interface ChildJson {
  childSaId: number;
  inbound: { spi: string } | null;
}
interface IkeJson {
  ikeSaId: number;
  children: ChildJson[];
}

Deno.test({
  name:
    "updown (netns): up-client on both sides, nothing for a rekey, down-client at down and stop",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lab = await NetnsLab.create("tud-");
    const dir = await Deno.makeTempDir({ prefix: "tud-" });
    const logs = new Map<string, () => string>();
    const sockets: string[] = [];
    try {
      const a = await lab.addNs("a");
      const b = await lab.addNs("b");
      await lab.veth(a, "va", "192.0.2.1/24", b, "vb", "192.0.2.2/24");

      const start = async (ns: string, name: "a" | "b") => {
        // etc/<name>.yaml names hooks/updown.sh: resolved from etc/.
        await Deno.mkdir(`${dir}/${name}/hooks`, { recursive: true });
        const out = `${dir}/${name}/updown.out`;
        const script = `${dir}/${name}/hooks/updown.sh`;
        await Deno.writeTextFile(
          script,
          `#!/bin/sh\n{ env | grep ^PLUTO_ | sort; echo ---; } >> '${out}'\necho "hello from updown $PLUTO_VERB"\n`,
        );
        await Deno.chmod(script, 0o755);
        const d = await startDaemonIn(
          lab,
          ns,
          dir,
          name,
          siteYaml(name, "updown: hooks/updown.sh"),
        );
        logs.set(name, d.log);
        sockets.push(d.socket);
        return { ...d, out };
      };
      const A = await start(a, "a");
      const B = await start(b, "b");
      const ipsec = (args: string[], socket: string) =>
        run([...IPSEC, ...args, "--socket", socket]);
      const why = () => `\n--- a ---\n${logs.get("a")!()}\n--- b ---\n${logs.get("b")!()}`;
      const sas = async (socket: string) =>
        JSON.parse(ok(await ipsec(["list-sas", "--json"], socket), "list-sas")) as IkeJson[];

      // Up: one up-client on each side, after the SAs are in.
      ok(await ipsec(["up", "site", "--timeout", "15"], A.socket), `ipsec up${why()}`);
      await waitFor(
        async () => (await runs(A.out)).length === 1 && (await runs(B.out)).length === 1,
        why,
      );
      const expected = {
        a: { me: "192.0.2.1", peer: "192.0.2.2", my: "10.1.0.0/16", theirs: "10.2.0.0/16" },
        b: { me: "192.0.2.2", peer: "192.0.2.1", my: "10.2.0.0/16", theirs: "10.1.0.0/16" },
      };
      const reqids = new Map<string, string>();
      for (const [name, side] of [["a", A], ["b", B]] as const) {
        const [up] = await runs(side.out);
        const e = expected[name];
        const [ike] = await sas(side.socket);
        assert.ok(ike, `${name}: no IKE SA${why()}`);
        const child = ike.children[0];
        assert.deepStrictEqual(Object.fromEntries(up), {
          PLUTO_CONNECTION: "net",
          // The interface of our outer address, as charon gives it.
          PLUTO_INTERFACE: name === "a" ? "va" : "vb",
          PLUTO_ME: e.me,
          PLUTO_MY_CLIENT: e.my,
          PLUTO_MY_ID: `${name}.example.com`,
          PLUTO_MY_PORT: "0",
          PLUTO_MY_PROTOCOL: "0",
          PLUTO_PEER: e.peer,
          PLUTO_PEER_CLIENT: e.theirs,
          PLUTO_PEER_ID: `${name === "a" ? "b" : "a"}.example.com`,
          PLUTO_PEER_PORT: "0",
          PLUTO_PEER_PROTOCOL: "0",
          PLUTO_PROTO: "esp",
          PLUTO_REQID: String(child.childSaId),
          PLUTO_UNIQUEID: String(ike.ikeSaId),
          PLUTO_VERB: "up-client",
          PLUTO_VERSION: "1.1",
        }, `${name}${why()}`);
        reqids.set(name, String(child.childSaId));
        assert.match(logs.get(name)!(), /updown: hello from updown up-client/);
      }

      // Rekey the child (CREATE_CHILD_SA): new SPIs, no down/up on either side.
      const spiBefore = (await sas(A.socket))[0].children[0].inbound!.spi;
      ok(
        await ipsec(["rekey", "site", "--child", "net", "--timeout", "15"], A.socket),
        `ipsec rekey${why()}`,
      );
      await waitFor(async () => {
        const [ikeA] = await sas(A.socket);
        const [ikeB] = await sas(B.socket);
        return ikeA?.children.length === 1 && ikeB?.children.length === 1 &&
          ikeA.children[0].inbound?.spi !== spiBefore;
      }, why);
      // Whatever the rekey would have run has had ample time (scripts take milliseconds).
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal((await runs(A.out)).length, 1, `a ran a script for the rekey${why()}`);
      assert.equal((await runs(B.out)).length, 1, `b ran a script for the rekey${why()}`);

      // Down: down-client on both sides, with the reqid of the up.
      ok(await ipsec(["down", "site"], A.socket), `ipsec down${why()}`);
      await waitFor(
        async () => (await runs(A.out)).length === 2 && (await runs(B.out)).length === 2,
        why,
      );
      for (const [name, side] of [["a", A], ["b", B]] as const) {
        const [up, down] = await runs(side.out);
        assert.equal(down.get("PLUTO_VERB"), "down-client", `${name}${why()}`);
        assert.equal(down.get("PLUTO_REQID"), reqids.get(name), name);
        for (const k of ["PLUTO_ME", "PLUTO_PEER", "PLUTO_MY_CLIENT", "PLUTO_PEER_CLIENT"]) {
          assert.equal(down.get(k), up.get(k), `${name} ${k}`);
        }
      }

      // Up again, then stop A with the SA up: A runs down-client before it exits, B at the Delete.
      ok(await ipsec(["up", "site", "--timeout", "15"], A.socket), `ipsec up again${why()}`);
      await waitFor(
        async () => (await runs(A.out)).length === 3 && (await runs(B.out)).length === 3,
        why,
      );
      ok(await ipsec(["stop"], A.socket), "a: ipsec stop");
      await A.process.status;
      const aRuns = await runs(A.out);
      assert.deepStrictEqual(aRuns.map((r) => r.get("PLUTO_VERB")), [
        "up-client",
        "down-client",
        "up-client",
        "down-client",
      ], `\n--- a ---\n${logs.get("a")!()}`);
      await waitFor(async () => (await runs(B.out)).length === 4, why);
      assert.equal((await runs(B.out))[3].get("PLUTO_VERB"), "down-client");
    } finally {
      for (const s of sockets) await run([...IPSEC, "stop", "--socket", s]).catch(() => {});
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
