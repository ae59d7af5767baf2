/**
 * IPv6 virtual IPs with strongSwan as the gateway (configuration payloads,
 * RFC 7296 section 3.15): charon hands us an address from an IPv6 pool
 * (INTERNAL_IP6_ADDRESS, 16 octets + prefix length) and an IPv6 DNS server,
 * alone or beside an IPv4 address; our "dynamic" local selector narrows to
 * each address we got, and charon leases exactly those. The other way
 * round, our IPv4 and IPv6 pools give charon (`vips = 0.0.0.0,::`) one
 * address of each family.
 *
 * ```
 *  client ──IKE_AUTH {IDi AUTH CP(CFG_REQUEST: ADDR ADDR6 DNS DNS6) SA TSi TSr}──► gateway
 *  client ◄────{IDr AUTH CP(CFG_REPLY: ADDR ADDR6 DNS DNS6) SA TSi(vip/32 vip6/128) TSr} gateway
 * ```
 *
 * @module
 */
import { type InteropCase, InteropLab } from "../helpers/interop_lab.ts";

const POOLS = [
  "  v4 {\n    addrs = 10.3.0.0/24\n    dns = 10.1.0.53\n  }",
  "  v6 {\n    addrs = 2001:db8:ff::/112\n    dns = 2001:db8::53\n  }",
].join("\n");

function vipCase(name: string, vips: string[], pools: string): InteropCase {
  return {
    name,
    ike: "aes256gcm16-prfsha256-x25519",
    esp: "aes256gcm16",
    initiator: "engine",
    deleter: "engine",
    charon: {
      localTs: "10.1.0.0/16,2001:db8:1::/48",
      remoteTs: "dynamic",
      extra: ["dpd_delay = 0", "send_cert = always", `pools = ${pools}`],
      pools: POOLS,
    },
    engine: { vips, localTs: ["dynamic"], remoteTs: ["10.1.0.0/16", "2001:db8:1::/48"] },
  };
}

function expect(what: string, got: unknown, want: unknown): void {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
}

Deno.test({
  name: "strongSwan interop: IPv6 and dual-stack virtual IPs, charon as gateway and we as gateway",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    try {
      // kernel-libipsec routes the remote TS via its TUN with a source address
      // in the local TS: give charon one in its IPv6 subnet too (the lab has the IPv4 one).
      const r = await lab.lab.runIn(lab.charon.ns, [
        "ip",
        "addr",
        "add",
        "2001:db8:1::1/128",
        "dev",
        "lo",
      ]);
      if (r.code !== 0) throw new Error(`ip addr add in ${lab.charon.ns}: ${r.stderr}`);
      const cases: [string, InteropCase, string[], string[]][] = [
        ["IPv6 only", vipCase("vip6-only", ["::"], "v6"), ["v6"], ["2001:db8::53"]],
        [
          "dual-stack",
          vipCase("vip6-dual", ["0.0.0.0", "::"], "v4, v6"),
          ["v4", "v6"],
          ["10.1.0.53", "2001:db8::53"],
        ],
      ];
      for (const [label, c, families, dns] of cases) {
        await t.step(
          `${label}: charon's pools give us an address per family and DNS`,
          () =>
            lab.withLogs(c, async () => {
              const mark = lab.engine.mark();
              const logMark = await lab.charon.logMark();
              await lab.establish(c);
              const vip = await lab.engine.waitFor(
                (o) => o.type === "event" && o.event === "virtual-ip",
                mark,
              );
              const addresses = (vip.addresses ?? [vip.address]) as string[];
              expect(
                "address families",
                addresses.map((a) => a.includes(":") ? "v6" : "v4"),
                families,
              );
              for (const a of addresses) {
                const ok = a.includes(":")
                  ? /^2001:db8:ff::[0-9a-f]{1,4}$/.test(a)
                  : /^10\.3\.0\.\d+$/.test(a);
                if (!ok) throw new Error(`virtual IP ${a} is not from charon's pool`);
              }
              expect("DNS", vip.dns, dns);
              const { theirs } = await lab.agreement(c);
              expect("charon's leases", [...theirs.remoteVips].sort(), [...addresses].sort());
              const child = theirs.children[0];
              const hosts = addresses.map((a) => a.includes(":") ? `${a}/128` : `${a}/32`);
              expect(
                "charon's remote TS (our side)",
                [...child.remoteTs].sort(),
                [...hosts].sort(),
              );
              await lab.charon.waitLog(/generating IKE_AUTH response 1 \[.*CPRP\(/, logMark);
              await lab.teardown(c);
            }),
        );
      }

      const ourGw: InteropCase = {
        name: "vip6-our-gw",
        ike: "aes256gcm16-prfsha256-x25519",
        esp: "aes256gcm16",
        initiator: "charon",
        deleter: "charon",
        charon: {
          localTs: "dynamic",
          remoteTs: "10.2.0.0/16,2001:db8:2::/48",
          extra: ["dpd_delay = 0", "send_cert = always", "vips = 0.0.0.0,::"],
        },
        engine: {
          pools: [
            { name: "v4", range: "10.4.0.0/24", dns: ["10.2.0.53"] },
            { name: "v6", range: "2001:db8:fe::/112", dns: ["2001:db8:2::53"] },
          ],
          localTs: ["10.2.0.0/16", "2001:db8:2::/48"],
          remoteTs: ["dynamic"],
        },
      };
      await t.step(
        "dual-stack: our pools give charon an address per family",
        () =>
          lab.withLogs(ourGw, async () => {
            const logMark = await lab.charon.logMark();
            await lab.establish(ourGw);
            const { theirs } = await lab.agreement(ourGw);
            expect("charon's virtual IPs", [...theirs.localVips].sort(), [
              "10.4.0.1",
              "2001:db8:fe::1",
            ]);
            expect("charon's local TS", [...theirs.children[0].localTs].sort(), [
              "10.4.0.1/32",
              "2001:db8:fe::1/128",
            ]);
            await lab.charon.waitLog(
              /parsed IKE_AUTH response 1 \[.*CPRP\(ADDR ADDR6 DNS DNS6\)/,
              logMark,
            );
            await lab.charon.waitLog(
              /processing INTERNAL_IP6_DNS attribute/,
              logMark,
            );
            await lab.charon.waitLog(/installing new virtual IP 2001:db8:fe::1/, logMark);
            await lab.teardown(ourGw);
          }),
      );
    } finally {
      await lab.close();
    }
  },
});
