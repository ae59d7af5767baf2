/**
 * Virtual IPs with strongSwan (configuration payloads, RFC 7296 section
 * 3.15), each side as the gateway:
 *
 * - charon hands us an address and a DNS server from its pool; our
 *   "dynamic" local selector narrows to that address;
 * - we hand charon an address and a DNS server from our pool; charon's
 *   "dynamic" local selector narrows to it.
 *
 * ```
 *  client ──IKE_AUTH {IDi AUTH CP(CFG_REQUEST: ADDR DNS) SA TSi TSr}──► gateway
 *  client ◄──────────{IDr AUTH CP(CFG_REPLY: ADDR=10.x.0.y DNS) SA TSi TSr} gateway
 * ```
 *
 * @module
 */
import { type InteropCase, InteropLab } from "../helpers/interop_lab.ts";

function inPool(addr: string, prefix: string): boolean {
  return addr.startsWith(prefix) && !addr.endsWith(".0") && !addr.endsWith(".255");
}

Deno.test({
  name: "strongSwan interop: virtual IP and DNS from a pool, charon as gateway and we as gateway",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    try {
      const charonGw: InteropCase = {
        name: "vip-charon-gw",
        ike: "aes256gcm16-prfsha256-x25519",
        esp: "aes256gcm16",
        initiator: "engine",
        deleter: "engine",
        charon: {
          localTs: "10.1.0.0/16",
          remoteTs: "dynamic",
          extra: ["dpd_delay = 0", "send_cert = always", "pools = rw"],
          pools: "  rw {\n    addrs = 10.3.0.0/24\n    dns = 10.1.0.53\n  }",
        },
        engine: { vips: ["0.0.0.0"], localTs: ["dynamic"], remoteTs: ["10.1.0.0/16"] },
      };
      await t.step(
        "charon's pool gives us an address and DNS",
        () =>
          lab.withLogs(charonGw, async () => {
            const mark = lab.engine.mark();
            await lab.establish(charonGw);
            const vip = await lab.engine.waitFor(
              (o) => o.type === "event" && o.event === "virtual-ip",
              mark,
            );
            const addr = `${vip.address}`;
            if (!inPool(addr, "10.3.0.")) {
              throw new Error(`virtual IP ${addr} is not from the pool`);
            }
            if (JSON.stringify(vip.dns) !== JSON.stringify(["10.1.0.53"])) {
              throw new Error(`DNS ${JSON.stringify(vip.dns)}, expected 10.1.0.53`);
            }
            const { theirs } = await lab.agreement(charonGw);
            if (theirs.remoteVips.join() !== addr) {
              throw new Error(`charon leased ${theirs.remoteVips.join()}, we got ${addr}`);
            }
            const child = theirs.children[0];
            if (child.remoteTs.join() !== `${addr}/32` || child.localTs.join() !== "10.1.0.0/16") {
              throw new Error(`selectors not narrowed to the virtual IP: ${JSON.stringify(child)}`);
            }
            await lab.teardown(charonGw);
          }),
      );

      const ourGw: InteropCase = {
        name: "vip-our-gw",
        ike: "aes256gcm16-prfsha256-x25519",
        esp: "aes256gcm16",
        initiator: "charon",
        deleter: "charon",
        charon: {
          localTs: "dynamic",
          remoteTs: "10.2.0.0/16",
          extra: ["dpd_delay = 0", "send_cert = always", "vips = 0.0.0.0"],
        },
        engine: {
          pools: [{ name: "rw", range: "10.4.0.0/24", dns: ["10.2.0.53"] }],
          localTs: ["10.2.0.0/16"],
          remoteTs: ["dynamic"],
        },
      };
      await t.step(
        "our pool gives charon an address and DNS",
        () =>
          lab.withLogs(ourGw, async () => {
            const logMark = await lab.charon.logMark();
            await lab.establish(ourGw);
            const { theirs } = await lab.agreement(ourGw);
            const addr = theirs.localVips.join();
            if (!inPool(addr, "10.4.0.")) throw new Error(`charon got ${addr}, not from our pool`);
            const child = theirs.children[0];
            if (child.localTs.join() !== `${addr}/32` || child.remoteTs.join() !== "10.2.0.0/16") {
              throw new Error(`selectors not narrowed to the virtual IP: ${JSON.stringify(child)}`);
            }
            await lab.charon.waitLog(/parsed IKE_AUTH response 1 \[.*CPRP\(ADDR DNS\)/, logMark);
            await lab.charon.waitLog(new RegExp(`installing new virtual IP ${addr}`), logMark);
            await lab.teardown(ourGw);
          }),
      );
    } finally {
      await lab.close();
    }
  },
});
