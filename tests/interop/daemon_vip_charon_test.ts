/**
 * Road warrior with our whole daemon (`ipsec start`, TUN data plane) against
 * strongSwan's charon (kernel-libipsec), each side once as the gateway that
 * hands out a virtual IP and a DNS server from its pool (configuration
 * payloads, RFC 7296 section 3.15; bench: tests/helpers/interop_system.ts):
 *
 * ```
 *  ns "c": charon 10.99.0.1, lo 10.1.0.1  <== veth ==>  ns "d": ipsec daemon 10.99.0.2, lo 10.2.0.1
 *
 *  a. charon gateway, pool 10.3.0.0/24 + DNS 10.1.0.53     we: vips 0.0.0.0, local_ts dynamic
 *  b. charon: vips 0.0.0.0, local_ts dynamic               we gateway, pool 10.4.0.0/24 + DNS 10.2.0.53
 *
 *  client ──IKE_AUTH {IDi AUTH CP(CFG_REQUEST: ADDR DNS) SA TSi TSr}──► gateway
 *  client ◄──────────{IDr AUTH CP(CFG_REPLY: ADDR=VIP DNS) SA TSi(VIP) TSr} gateway
 * ```
 *
 * Each case checks the lease on both sides (charon's `swanctl --list-sas`
 * narrowed selectors; the client's address on its TUN; the DNS server as the
 * client saw it), then pings and 64 KiB TCP transfers (SHA-256 checked) both
 * ways between the virtual IP and the network behind the gateway.
 *
 * @module
 */
import { type Bench, checkAgreement, must, withBench } from "../helpers/interop_system.ts";
import { trafficBothWays } from "../helpers/interop_traffic.ts";
import type { SwanIkeSa } from "../helpers/strongswan.ts";

/** The TUN our runtime creates (lib/daemon/runtime.ts) and kernel-libipsec's default. */
const TUN = "ipsec0";

/** Whether `addr` is a host address of the IPv4 /24 `prefix` ("10.3.0."). */
function inPool(addr: string | undefined, prefix: string): boolean {
  if (!addr?.startsWith(prefix)) return false;
  const host = Number(addr.slice(prefix.length));
  return /^\d+$/.test(addr.slice(prefix.length)) && host >= 1 && host <= 254;
}

/** IPv4 addresses on `dev` in `ns` (`ip -o -4 addr show dev DEV`), as "a.b.c.d/len". */
async function addrsOn(b: Bench, ns: string, dev: string): Promise<string[]> {
  const r = await b.lab.runIn(ns, ["ip", "-o", "-4", "addr", "show", "dev", dev]);
  return [...r.stdout.matchAll(/\binet (\S+)/g)].map((m) => m[1]);
}

/** Polls until `addr` is (or, with `present` false, is no longer) on `dev` in `ns`. */
async function waitAddr(
  b: Bench,
  ns: string,
  dev: string,
  addr: string,
  present: boolean,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const addrs = await addrsOn(b, ns, dev);
    if (addrs.some((a) => a.split("/")[0] === addr) === present) return;
    if (Date.now() > deadline) {
      const all = (await b.lab.runIn(ns, ["ip", "addr"])).stdout;
      throw new Error(
        `${addr} is ${present ? "not" : "still"} on ${dev} in ${ns}; ip addr:\n${all}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** charon's one ESTABLISHED IKE SA with its one INSTALLED child. */
async function charonSa(b: Bench): Promise<SwanIkeSa> {
  const [sa] = await b.charon.waitSas(
    (s) =>
      s.length === 1 && s[0].state === "ESTABLISHED" &&
      s[0].children.filter((c) => c.state === "INSTALLED").length === 1,
    "one ESTABLISHED IKE SA with one INSTALLED child",
  );
  return { ...sa, children: sa.children.filter((c) => c.state === "INSTALLED") };
}

/**
 * The client's one virtual IP in charon's view (`client` is charon's own side
 * or its peer), from the /24 `pool` ("10.3.0."), with the child's selectors
 * narrowed to it on the client's side and `network` on the gateway's.
 */
function leasedVip(
  sa: SwanIkeSa,
  client: "local" | "remote",
  pool: string,
  network: string,
): string {
  const vips = client === "local" ? sa.localVips : sa.remoteVips;
  const vip = vips[0];
  if (vips.length !== 1 || !inPool(vip, pool)) {
    throw new Error(
      `charon's ${client} virtual IPs: ${vips.join() || "none"}, not one of ${pool}0/24`,
    );
  }
  const c = sa.children[0];
  const [clientTs, gatewayTs] = client === "local"
    ? [c.localTs, c.remoteTs]
    : [c.remoteTs, c.localTs];
  if (clientTs.join() !== `${vip}/32` || gatewayTs.join() !== network) {
    throw new Error(`charon's selectors are not ${vip}/32 === ${network}: ${JSON.stringify(c)}`);
  }
  return vip;
}

/** Traffic went through charon's child SA both ways (it counted bytes in and out). */
async function charonCounted(b: Bench): Promise<void> {
  const sa = await charonSa(b);
  const c = sa.children[0];
  if (c.bytesIn === 0 || c.bytesOut === 0) {
    throw new Error(`charon's child SA saw no traffic: ${JSON.stringify(c)}`);
  }
}

/**
 * The client's strongSwan-side updown script: writes charon's PLUTO_*
 * environment of each event to OUT.VERB (whole, by rename).
 */
function updownScript(out: string): string {
  return `#!/bin/sh\nenv | grep '^PLUTO_' | sort > ${out}.$$ && mv ${out}.$$ ${out}.$PLUTO_VERB\n`;
}

/** Polls for a file (up to 10 s) and returns its text. */
async function waitFile(path: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) || Date.now() > deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test({
  name: "strongSwan interop, our daemon: road warrior, charon's pool gives us a virtual IP and DNS",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withBench(
      undefined,
      async (b) => {
        must(await b.daemon.cli(["up", "gw", "--timeout", "15"]), "ipsec up gw");
        await checkAgreement(b.charon, await b.daemon.listSas());

        // charon leased an address of its pool to us and narrowed its selectors to it.
        const vip = leasedVip(await charonSa(b), "remote", "10.3.0.", "10.1.0.0/24");

        // We installed it on our TUN; `ipsec status --json` shows it and the DNS server on the SA.
        await waitAddr(b, b.d, TUN, vip, true);
        const r = await b.daemon.cli(["status", "--json"]);
        must(r, "ipsec status --json");
        const sas = ((JSON.parse(r.stdout) as { ikeSas?: unknown[] }).ikeSas ?? [])
          .map((s) => JSON.stringify(s));
        if (sas.length !== 1 || !sas[0].includes(`"${vip}"`) || !sas[0].includes('"10.1.0.53"')) {
          throw new Error(
            `ipsec status --json shows no IKE SA with ${vip} and DNS 10.1.0.53:\n${r.stdout}`,
          );
        }

        // Pings and TCP both ways between our virtual IP and charon's network.
        await trafficBothWays(b.lab, { ns: b.d, ip: vip }, { ns: b.c, ip: "10.1.0.1" }, 1 << 16);
        await charonCounted(b);

        // Going down releases the lease: the address leaves our TUN.
        must(await b.daemon.cli(["down", "gw"]), "ipsec down gw");
        await b.charon.waitSas((s) => s.length === 0, "charon to drop the SAs after ipsec down");
        await b.daemon.waitSas((s) => s.length === 0, "no SAs after ipsec down");
        await waitAddr(b, b.d, TUN, vip, false);
      },
      {},
      {
        ours: { localTs: "dynamic", extra: ["vips: [0.0.0.0]"] },
        charon: {
          remoteTs: "dynamic",
          extra: ["dpd_delay = 0", "send_cert = always", "pools = rw"],
          pools: "  rw {\n    addrs = 10.3.0.0/24\n    dns = 10.1.0.53\n  }",
        },
      },
    ),
});

Deno.test({
  name: "strongSwan interop, our daemon: road warrior, our pool gives charon a virtual IP and DNS",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // charon's updown plugin hands the DNS servers it received to this script (dns_handler).
    const dir = await Deno.makeTempDir({ prefix: "ti-vip-" });
    try {
      const script = `${dir}/updown.sh`;
      const record = `${dir}/updown.env`;
      await Deno.writeTextFile(script, updownScript(record), { mode: 0o755 });
      await withBench(
        undefined,
        async (b) => {
          const logMark = await b.charon.logMark();
          await b.charon.initiate("gw", "net");
          await b.daemon.waitSas(
            (s) => s.length === 1 && s[0].children.length === 1,
            "the SA charon initiated",
          );
          await checkAgreement(b.charon, await b.daemon.listSas());

          // charon got an address of our pool, narrowed its selectors to it and put it on its TUN.
          const vip = leasedVip(await charonSa(b), "local", "10.4.0.", "10.2.0.0/24");
          await b.charon.waitLog(/parsed IKE_AUTH response 1 \[.*CPRP\(ADDR DNS\)/, logMark);
          await b.charon.waitLog(
            new RegExp(`installing new virtual IP ${vip.replaceAll(".", "\\.")}`),
            logMark,
          );
          await waitAddr(b, b.c, TUN, vip, true);

          // charon's updown saw our DNS server (and its virtual IP as its source).
          const up = await waitFile(`${record}.up-client`);
          if (!up.includes("PLUTO_DNS4_1=10.2.0.53\n") || up.includes("PLUTO_DNS4_2=")) {
            throw new Error(`charon's updown did not get exactly DNS 10.2.0.53:\n${up}`);
          }
          if (!up.includes(`PLUTO_MY_SOURCEIP=${vip}\n`)) {
            throw new Error(`charon's updown did not get source IP ${vip}:\n${up}`);
          }

          // Pings and TCP both ways between our network and charon's virtual IP.
          await trafficBothWays(b.lab, { ns: b.d, ip: "10.2.0.1" }, { ns: b.c, ip: vip }, 1 << 16);
          await charonCounted(b);

          const r = await b.charon.terminate("gw");
          if (r.code !== 0) throw new Error(`swanctl --terminate failed:\n${r.stdout}${r.stderr}`);
          await b.daemon.waitSas((s) => s.length === 0, "no SAs after swanctl --terminate");
          await b.charon.waitSas((s) => s.length === 0, "charon to have no SAs");
        },
        {},
        {
          ours: {
            remoteTs: "dynamic",
            remoteAddrs: null,
            extra: ["pools: [rw]"],
            sections: "pools:\n  rw:\n    addrs: 10.4.0.0/24\n    dns: [10.2.0.53]\n",
          },
          charon: {
            localTs: "dynamic",
            extra: ["dpd_delay = 0", "send_cert = always", "vips = 0.0.0.0"],
            childExtra: [`updown = ${script}`],
          },
          charonConf: "plugins {\n    updown {\n      dns_handler = yes\n    }\n  }",
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
