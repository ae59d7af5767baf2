/**
 * Our daemon listening on the wildcard on a host with two addresses: charon
 * connects to the second one (not the route's source toward charon), and
 * every answer must come from that address, on port 500 (our per-address
 * sockets) and on 4500 (the data plane's socket, IP_PKTINFO). charon's log
 * names the source of each packet it receives; a reply from our other
 * address would also make its NAT detection see a NAT that is not there.
 *
 * ```
 *  ns c: vc 10.99.0.1 (charon)  <== veth ==>  ns d: vd 10.99.0.2 + 10.99.0.3 (ours, wildcard)
 *        initiates to 10.99.0.3
 * ```
 *
 * @module
 */
import { BENCH, type DaemonIkeSa, withDaemonBench } from "../helpers/interop_daemon.ts";
import { ping } from "../helpers/interop_traffic.ts";

const SECOND = "10.99.0.3";
type OurSa = DaemonIkeSa & { ike?: { local: string; remote: string } };

for (const start of [500, 4500] as const) {
  // Starting on 4500 (charon's remote_port): IKE_SA_INIT arrives on the data
  // plane's socket, whose IP_PKTINFO must name the address it was sent to.
  const ports = start === 500 ? [500, 4500] : [4500];
  Deno.test({
    name: `strongSwan interop, our daemon: on two addresses, answers leave from the one charon ` +
      `asked (from port ${start})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withDaemonBench({
        prefix: "tmh-",
        spec: {
          ike: "aes256gcm16-prfsha256-x25519",
          esp: "aes256gcm16",
          // No local_addrs: the wildcard. Our YAML has encap: yes, so IKE_AUTH goes over 4500.
          charonRemote: SECOND,
          charon: [
            "encap = yes",
            ...(start === 4500 ? ["local_port = 4500", "remote_port = 4500"] : []),
          ],
        },
      }, async (b) => {
        await b.lab.runIn(b.d, ["ip", "addr", "add", `${SECOND}/24`, "dev", "vd"]);
        // The address monitor (1 s polls) sees the second address: its sockets are bound then.
        const seen = `local addresses: ${BENCH.ours}, ${SECOND}`;
        for (let i = 0; !b.daemon.log().includes(seen); i++) {
          if (i > 100) throw new Error("our daemon never saw its second address");
          await new Promise((r) => setTimeout(r, 100));
        }
        await new Promise((r) => setTimeout(r, 300)); // its binds are asynchronous
        const mark = await b.charon.logMark();
        await b.charon.initiate("gw", "net", 15);
        const log = await b.charon.log(mark);
        for (const port of ports) {
          const line = `received packet: from ${SECOND}[${port}] to ${BENCH.charon}[${port}]`;
          if (!log.includes(line)) {
            throw new Error(`charon got nothing from ${SECOND}[${port}]:\n${log}`);
          }
        }
        if (log.includes(`from ${BENCH.ours}[`)) {
          throw new Error(`an answer came from our other address ${BENCH.ours}:\n${log}`);
        }
        const [sa] = await b.charon.sas();
        if (sa?.remoteAddr !== SECOND) throw new Error(`charon's IKE SA is with ${sa?.remoteAddr}`);
        const [ours] = await b.daemon.listSas() as OurSa[];
        if (!ours?.ike?.local.startsWith(`${SECOND}[`)) {
          throw new Error(`our IKE SA: ${JSON.stringify(ours)}`);
        }
        const r = await ping(b.lab, { ns: b.d, ip: BENCH.ourInner }, {
          ns: b.c,
          ip: BENCH.charonInner,
        });
        if (r.code !== 0) throw new Error(`ping through the tunnel failed:\n${r.stdout}`);
      }),
  });
}
