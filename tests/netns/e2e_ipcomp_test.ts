/**
 * IPComp end to end between two of our daemons (`ipcomp: yes` on both
 * children): IKE_AUTH carries N(IPCOMP_SUPPORTED) both ways, `ipsec
 * list-sas` and `ipsec sad` show the CPIs, pings with a large, compressible
 * payload cross compressed (their ESP packets on the veth are a fraction of
 * their size) and small ones plain; with `ipcomp: yes` on one side only the
 * tunnel comes up without it. Tunnel mode with raw ESP, tunnel mode with AH
 * (the compressed datagram is what AH authenticates), and transport mode in
 * UDP 4500. Needs root; namespaces are prefixed `tic-`.
 *
 * ```
 *  tic-a: va 192.0.2.1/24, lo 10.1.0.1 ── vb 192.0.2.2/24, lo 10.2.0.1 :tic-b
 * ```
 */
import assert from "node:assert/strict";
import { ok, withHostPair } from "../helpers/netns_daemons.ts";
import { tsharkDuring } from "../helpers/tshark.ts";

const PSK = "netns ipcomp key 0123456789abcdef";

function yaml(side: "a" | "b", o: { ipcomp: boolean; transport: boolean; ah: boolean }): string {
  const [me, peer, mine, theirs] = side === "a"
    ? ["192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16"]
    : ["192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16"];
  const ts = o.transport
    ? "local_ts: [dynamic], remote_ts: [dynamic], mode: transport"
    : `local_ts: [${mine}], remote_ts: [${theirs}]`;
  return `connections:
  site:
    local_addrs: [${me}]
    remote_addrs: [${peer}]
    encap: ${o.transport ? "yes" : "no"}
    local: { auth: psk, id: ${side}.example.com }
    remote: { auth: psk, id: ${side === "a" ? "b" : "a"}.example.com }
    children:
      net: { ${ts}, ipcomp: ${o.ipcomp ? "yes" : "no"}${o.ah ? ", ah_proposals: [sha256]" : ""} }
secrets:
  ike: { id: [a.example.com, b.example.com], secret: "${PSK}" }
`;
}

for (const [transport, ah] of [[false, false], [true, false], [false, true]]) {
  Deno.test({
    name: `IPComp (netns): two daemons compress (${
      ah ? "tunnel mode, AH" : transport ? "transport mode, ESP in UDP" : "tunnel mode, raw ESP"
    }); one side without ipcomp: uncompressed`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withHostPair("tic-", { aLo: ["10.1.0.1/32"], bLo: ["10.2.0.1/32"] }, async (p) => {
        const { lab, a, b, start } = p;
        const A = await start(a, "a", yaml("a", { ipcomp: true, transport, ah }));
        const B = await start(b, "b", yaml("b", { ipcomp: true, transport, ah }));
        const why = () => `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}`;
        ok(await A.ipsec(["up", "site", "--timeout", "15"]), `ipsec up${why()}`);
        assert.match(A.log(), /IKE_AUTH request 1 \[ [^\]]*N\(IPCOMP_SUP\)/, why());
        assert.match(B.log(), /IKE_AUTH response 1 \[ [^\]]*N\(IPCOMP_SUP\)/, why());
        const sas = ok(await A.ipsec(["list-sas"]), "list-sas");
        assert.match(sas, /INSTALLED, (TUNNEL|TRANSPORT), (ESP|AH) [^\n]*, IPCOMP/, sas);
        assert.match(sas, /in {2}[0-9a-f]{8} \(IPComp CPI [0-9a-f]{4}\)/, sas);
        assert.match(ok(await B.ipsec(["sad"]), "sad"), ah ? /AH\+IPCOMP/ : /ESP\+IPCOMP/);
        assert.match(
          ok(await A.ipsec(["list-conns"]), "list-conns"),
          ah ? /net: TUNNEL, AH\+IPCOMP,/ : /net: (TUNNEL|TRANSPORT), ESP\+IPCOMP,/,
        );

        // Sizes of the ESP packets a sends, seen on b's veth.
        const [src, dst] = transport ? ["192.0.2.1", "192.0.2.2"] : ["10.1.0.1", "10.2.0.1"];
        const ping = (size: number) =>
          lab.runIn(a, [
            "ping",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "2",
            "-s",
            String(size),
            "-p",
            "5a",
            "-I",
            src,
            dst,
          ]);
        const lengths = await tsharkDuring(b, [
          "-i",
          "vb",
          "-n",
          "-l",
          "-f",
          transport
            ? "udp port 4500 and src host 192.0.2.1"
            : `${ah ? "ah" : "esp"} and src host 192.0.2.1`,
          "-T",
          "fields",
          "-e",
          "frame.len",
        ], async () => {
          const big = await ping(1300);
          assert.equal(big.code, 0, `big pings through the tunnel:\n${big.stdout}${why()}`);
          const small = await ping(16);
          assert.equal(small.code, 0, `small pings:\n${small.stdout}${why()}`);
        });
        const sizes = lengths.trim().split("\n").filter((l) => l !== "").map(Number)
          .filter((n) => n > 0);
        // ESP from a: 3 big requests compressed (< 300 bytes, from 1,328), 3 small ones plain.
        const esp = transport ? sizes.filter((n) => n > 60) : sizes; // not NAT-T keepalives
        assert.equal(esp.length, 6, `ESP packets from a: ${sizes}`);
        assert.equal(esp.filter((n) => n < 300).length, 6, `all small on the wire: ${sizes}`);

        // One side without ipcomp: the tunnel comes up plain and still carries big pings.
        ok(await A.ipsec(["down", "site"]), "down");
        await Deno.writeTextFile(`${p.dir}/b/b.yaml`, yaml("b", { ipcomp: false, transport, ah }));
        ok(await B.ipsec(["reload"]), "reload");
        ok(await A.ipsec(["up", "site", "--timeout", "15"]), `ipsec up again${why()}`);
        const plain = ok(await A.ipsec(["list-sas"]), "list-sas");
        assert.doesNotMatch(plain, /IPCOMP|IPComp/, plain);
        const again = await ping(1300);
        assert.equal(again.code, 0, `big pings without IPComp:\n${again.stdout}${why()}`);
      }),
  });
}
