/**
 * Interop with an independent implementation: strongSwan's charon in one
 * network namespace, our engine (driven over a real UDP socket by this same
 * file run as a script) in another.
 *
 * ```
 *  ns "c": charon 10.99.0.1 <==== veth ====> ns "e": deno engine 10.99.0.2
 * ```
 *
 * Both directions are checked: our engine initiating (charon verifies our
 * AUTH, KE, SK protection and proposals) and charon initiating (we verify
 * its). Success means both sides report the same ESP SPIs, and the Delete
 * that follows removes the SAs on charon too.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseProposals } from "../../lib/crypto/proposal.ts";
import { parseIdentity } from "../../lib/db/identity.ts";
import { type Effect, IkeEngine } from "../../lib/ikev2/engine.ts";
import type { EngineConfig } from "../../lib/ikev2/peer_config.ts";
import { NetnsLab } from "../helpers/netns.ts";
import { Charon } from "../helpers/strongswan.ts";

const CHARON_IP = "10.99.0.1";
const ENGINE_IP = "10.99.0.2";
const PSK = "interop-psk-0123456789";

function charonConf(ike: string, esp: string): string {
  return `connections {
  deno {
    local_addrs = ${CHARON_IP}
    remote_addrs = ${ENGINE_IP}
    proposals = ${ike}
    dpd_delay = 0
    local { auth = psk
      id = moon.example.org }
    remote { auth = psk
      id = sun@example.org }
    children {
      net {
        local_ts = 10.1.0.0/16
        remote_ts = 10.2.0.0/16
        esp_proposals = ${esp}
      }
    }
  }
}
secrets {
  ike-deno {
    id-1 = moon.example.org
    id-2 = sun@example.org
    secret = "${PSK}"
  }
}
`;
}

function engineConfig(ike: string, esp: string): EngineConfig {
  const sun = parseIdentity("sun@example.org");
  const moon = parseIdentity("moon.example.org");
  return {
    connections: [{
      name: "moon",
      localAddress: ENGINE_IP,
      remoteAddress: CHARON_IP,
      proposals: parseProposals(ike, "ike"),
      local: { auth: "psk", id: sun },
      remote: { auth: "psk", id: moon },
      dpdDelaySeconds: 0,
      children: [{
        name: "net",
        mode: "tunnel",
        protocol: "esp",
        proposals: parseProposals(esp, "esp"),
        localTs: ["10.2.0.0/16"],
        remoteTs: ["10.1.0.0/16"],
      }],
    }],
    secrets: [{ ids: [sun, moon], secret: new TextEncoder().encode(PSK) }],
  };
}

/** Driver: runs the engine on a real UDP socket, JSON lines on stdout, commands on stdin. */
async function driver(role: string, ike: string, esp: string): Promise<void> {
  const engine = new IkeEngine(engineConfig(ike, esp), { now: Date.now() });
  // Port 500 plain, port 4500 with the 4-byte non-ESP marker (RFC 3948); ESP on 4500 is ignored.
  const socks = new Map([500, 4500].map((port) => [
    port,
    Deno.listenDatagram({ transport: "udp", hostname: ENGINE_IP, port }),
  ]));
  const timers = new Map<string, number>();
  const out = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
  const apply = (fx: Effect[]) => {
    for (const e of fx) {
      switch (e.kind) {
        case "send": {
          const natt = e.from.port === 4500 && !e.raw;
          const bytes = natt ? new Uint8Array([0, 0, 0, 0, ...e.bytes]) : e.bytes;
          socks.get(e.from.port)!.send(bytes, {
            transport: "udp",
            hostname: e.to.address,
            port: e.to.port,
          });
          break;
        }
        case "setTimer":
          timers.set(e.id, e.at);
          break;
        case "cancelTimer":
          timers.delete(e.id);
          break;
        case "installSa":
          out({ type: "install", direction: e.sa.direction, spi: e.sa.spi, encap: !!e.sa.encap });
          break;
        case "event":
          out({ type: "event", event: e.event.type, ikeSaId: e.event.ikeSaId });
          break;
        case "log":
          out({ type: "log", line: e.line });
          break;
        case "removeSa":
          out({ type: "remove", spi: e.spi });
          break;
      }
    }
  };
  let stop = false;
  (async () => {
    const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
    for await (const chunk of lines) {
      for (const cmd of chunk.split("\n").filter(Boolean)) {
        if (cmd === "terminate") {
          for (const sa of engine.list()) apply(engine.terminate(sa.id, Date.now()));
        }
        if (cmd === "rekey-child") {
          for (const sa of engine.list()) {
            for (const c of sa.children) apply(engine.rekeyChild(c.id, Date.now()));
          }
        }
        if (cmd === "rekey-ike") {
          for (const sa of engine.list()) apply(engine.rekeyIke(sa.id, Date.now()));
        }
        if (cmd === "list") {
          out({
            type: "list",
            sas: engine.list().map((sa) => ({
              spiI: sa.spiI.toString(16).padStart(16, "0"),
              spiR: sa.spiR.toString(16).padStart(16, "0"),
              children: sa.children.map((c) => [c.spiIn, c.spiOut]),
            })),
          });
        }
        if (cmd === "quit") stop = true;
      }
    }
  })();
  out({ type: "ready" });
  if (role === "initiator") apply(engine.initiate("moon", Date.now()));
  const pending = new Map<number, Promise<[number, Uint8Array, Deno.Addr]>>();
  while (!stop) {
    for (const [port, sock] of socks) {
      if (!pending.has(port)) pending.set(port, sock.receive().then(([b, a]) => [port, b, a]));
    }
    const next = Math.min(...timers.values(), Date.now() + 100);
    const wait = Math.max(0, next - Date.now());
    let tid: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      ...pending.values(),
      new Promise<undefined>((res) => tid = setTimeout(() => res(undefined), wait)),
    ]);
    clearTimeout(tid);
    if (r) {
      const [port, raw, addr] = r;
      pending.delete(port);
      const a = addr as Deno.NetAddr;
      const isIke = port === 500 || (raw.length >= 4 && raw[0] === 0 && raw[1] === 0 &&
        raw[2] === 0 && raw[3] === 0);
      if (isIke) {
        const bytes = port === 4500 ? raw.subarray(4) : raw;
        apply(engine.handle(bytes, { address: a.hostname, port: a.port }, {
          address: ENGINE_IP,
          port,
        }, Date.now()));
      }
    }
    for (const [id, at] of [...timers]) {
      if (at <= Date.now()) {
        timers.delete(id);
        apply(engine.timer(id, Date.now()));
      }
    }
  }
  for (const sock of socks.values()) sock.close();
  Deno.exit(0);
}

if (import.meta.main && Deno.args[0] === "driver") {
  await driver(Deno.args[1], Deno.args[2], Deno.args[3]);
}

/** Reads JSON lines from the driver until `pred` matches; returns all seen. */
async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  seen: Record<string, unknown>[],
  pred: (o: Record<string, unknown>) => boolean,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  let buf = "";
  while (Date.now() < deadline) {
    const r = await Promise.race([
      reader.read(),
      new Promise<{ done: true; value: undefined }>((res) =>
        setTimeout(() => res({ done: true, value: undefined }), deadline - Date.now())
      ),
    ]);
    if (r.done) break;
    buf += r.value;
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    for (const p of parts) {
      if (!p.startsWith("{")) continue;
      const o = JSON.parse(p);
      seen.push(o);
      if (pred(o)) return;
    }
  }
  throw new Error(
    `driver did not report the expected line; saw:\n${
      seen.map((o) => JSON.stringify(o)).join("\n")
    }`,
  );
}

async function interop(role: "initiator" | "responder", ike: string, esp: string) {
  const lab = await NetnsLab.create("tike-");
  let charon: Charon | undefined;
  let dir: string | undefined;
  try {
    const c = await lab.addNs("c");
    const e = await lab.addNs("e");
    await lab.veth(c, "vc", `${CHARON_IP}/24`, e, "ve", `${ENGINE_IP}/24`);
    // kernel-libipsec routes the remote TS via its TUN with a source address in the local TS.
    await lab.runIn(c, ["ip", "addr", "add", "10.1.0.1/32", "dev", "lo"]);
    dir = await Deno.makeTempDir({ prefix: lab.prefix });
    charon = await Charon.start({
      ns: c,
      dir,
      swanctlConf: charonConf(ike, esp),
      extraCharonConf:
        "install_routes = no\n  filelog {\n log {\n flush_line = yes\n chd = 2\n }\n }",
    });
    const script = new URL(import.meta.url).pathname;
    const child = lab.spawnDenoIn(e, script, ["driver", role, ike, esp], ["-A", "--unstable-net"]);
    const stdin = child.stdin.getWriter();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const seen: Record<string, unknown>[] = [];
    await readUntil(reader, seen, (o) => o.type === "ready");
    if (role === "responder") {
      const r = await charon.swanctl([
        "--initiate",
        "--child",
        "net",
        "--ike",
        "deno",
        "--timeout",
        "10",
      ]);
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}\n${await charon.log()}`);
    }
    await readUntil(reader, seen, (o) => o.type === "event" && o.event === "child-up");
    const ours = seen.filter((o) => o.type === "install").map((o) =>
      (o.spi as number).toString(16).padStart(8, "0")
    );
    assert.equal(ours.length, 2);
    // charon forces UDP encapsulation (kernel-libipsec), so our SAs must be encapsulated too.
    assert.ok(seen.filter((o) => o.type === "install").every((o) => o.encap === true));
    const sas = await charon.listSas();
    assert.match(sas, /ESTABLISHED/, sas);
    assert.match(sas, /INSTALLED/, sas);
    for (const spi of ours) assert.ok(sas.includes(spi), `charon has no SPI ${spi}:\n${sas}`);
    // Rekeying, both ways: charon rekeys the child (it checks our CREATE_CHILD_SA
    // answer and KEYMAT inputs), we rekey the child and then the IKE SA (charon
    // derives the new IKE SA's keys from ours and must decrypt what follows).
    const hex = (n: unknown) => (n as number).toString(16).padStart(8, "0");
    const send = (cmd: string) => stdin.write(new TextEncoder().encode(`${cmd}\n`));
    const steps: [string, (o: Record<string, unknown>) => boolean][] = [
      ["charon:rekey-child", (o) => o.type === "event" && o.event === "child-up"],
      ["rekey-child", (o) => o.type === "event" && o.event === "child-up"],
      ["rekey-ike", (o) => o.type === "event" && o.event === "ike-rekeyed"],
    ];
    for (const [cmd, done] of steps) {
      const mark = seen.length;
      if (cmd === "charon:rekey-child") {
        const r = await charon.swanctl(["--rekey", "--child", "net"]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
      } else await send(cmd);
      await readUntil(reader, seen, done);
      // Let the Delete of the old SA finish, then compare SPIs with charon.
      await new Promise((r) => setTimeout(r, 600));
      await send("list");
      await readUntil(reader, seen, (o) => o.type === "list");
      const list = seen.at(-1)!.sas as { spiI: string; spiR: string; children: number[][] }[];
      const now = await charon.listSas();
      assert.equal(list.length, 1, JSON.stringify(seen.slice(mark)));
      assert.equal(list[0].children.length, 1, JSON.stringify(seen.slice(mark)));
      for (const spi of list[0].children[0]) {
        assert.ok(now.includes(hex(spi)), `${cmd}: charon lacks ${hex(spi)}:\n${now}`);
      }
      assert.ok(now.includes(list[0].spiI) && now.includes(list[0].spiR), `${cmd}:\n${now}`);
      assert.equal((now.match(/ESTABLISHED/g) ?? []).length, 1, now);
    }
    // We delete; charon must drop everything.
    await stdin.write(new TextEncoder().encode("terminate\n"));
    await readUntil(reader, seen, (o) => o.type === "event" && o.event === "ike-down");
    let after = "";
    for (let i = 0; i < 40; i++) {
      after = await charon.listSas();
      if (!after.includes("ESTABLISHED")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(!after.includes("ESTABLISHED"), after);
    await stdin.write(new TextEncoder().encode("quit\n"));
    await stdin.close().catch(() => {});
    reader.releaseLock();
  } catch (e) {
    const log = (await charon?.log() ?? "").split("\n").filter((l) => !l.includes("[CFG]"));
    throw new Error(`${(e as Error).message}\n--- charon log ---\n${log.join("\n")}`);
  } finally {
    await charon?.stop().catch(() => {});
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    await lab.cleanup();
  }
}

for (
  const [role, ike, esp] of [
    ["initiator", "aes256gcm16-prfsha384-x25519", "aes256gcm16"],
    ["initiator", "aes128-sha256-modp2048", "aes128-sha256"],
    ["responder", "aes256gcm16-prfsha384-ecp256", "aes128gcm16"],
    ["responder", "chacha20poly1305-prfsha256-x25519", "chacha20poly1305"],
  ] as const
) {
  /*
   *   <role> = initiator: deno engine ──IKE_SA_INIT, IKE_AUTH──► charon
   *   <role> = responder: charon ──IKE_SA_INIT, IKE_AUTH──► deno engine
   *   then: deno engine ──INFORMATIONAL [ D ]──► charon
   */
  Deno.test({
    name: `engine interop with strongSwan charon: engine as ${role}, ${ike} / ${esp}`,
    // Needs root (netns) and charon: `.ci/install_deps.sh --with-interop` installs it.
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () => interop(role, ike, esp),
  });
}
