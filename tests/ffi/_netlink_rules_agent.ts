/**
 * Runs policy-rule requests inside a network namespace for
 * tests/ffi/netlink_rules_test.ts and tests/dataplane/inbound_guard_netns_test.ts
 * (started through `ip netns exec` with only `--allow-ffi`). Reads one JSON
 * command per stdin line, answers one JSON line each (`{ok: true, ...}` or
 * `{ok: false, error, errno}`), after printing "ready".
 *
 * Commands (addresses as "10.2.0.0/16" text):
 *  - `{op: "add" | "del", rule: JsonRule}`: {@linkcode Netlink.addRule} / deleteRule.
 *  - `{op: "delAt", family, priority}`: {@linkcode Netlink.deleteRulesAt}, answers `count`.
 *  - `{op: "guard", tunName, entries: JsonPolicy[]}`: {@linkcode InboundGuard.apply}
 *    with one guard kept across commands; answers `rules` (described) and `warnings`.
 *  - `{op: "unguard"}`: {@linkcode InboundGuard.remove}.
 *
 * @module
 */

import { Netlink, NetlinkError, type RulePrefix, type RuleSpec } from "../../ffi/netlink.ts";
import { ipToBytes, parseIp } from "../../lib/db/address.ts";
import { InboundGuard } from "../../lib/dataplane/inbound_guard.ts";
import {
  parseAddressSelector,
  parsePortSelector,
  parseProtocol,
  type Selector,
} from "../../lib/db/selector.ts";
import type { SpdAction, SpdEntry } from "../../lib/db/spd.ts";
import { describeRule } from "../../ffi/netlink.ts";
import { type NetnsLab, type RunResult, waitForLine } from "../helpers/netns.ts";

/** The system python (with scapy) used by the guard's namespace tests. */
export const PYTHON = "/usr/bin/python3";

/** Prints "ready", then "SOURCE PAYLOAD" per datagram to UDP port 9999 (IPv4 and IPv6). */
const UDP_LISTENER_PY = `
import socket, select
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s4.bind(("0.0.0.0", 9999))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s6.bind(("::", 9999))
print("ready", flush=True)
while True:
    for s in select.select([s4, s6], [], [])[0]:
        data, addr = s.recvfrom(2048)
        print(addr[0], data.decode(), flush=True)
`;

/** argv: source, destination, payload[, port (default 9999)]: one datagram from the host's stack. */
export const UDP_SEND_PY = `
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.sendto(sys.argv[3].encode(), (sys.argv[2], int(sys.argv[4]) if len(sys.argv) > 4 else 9999))
`;

/** The output of a command that must succeed (else an error with its output). */
export function mustRun(r: RunResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `ip -4|-6 rule show` in `ns`, one rule per line with single spaces. */
export async function ipRules(lab: NetnsLab, ns: string, family: 4 | 6): Promise<string[]> {
  const out = mustRun(await lab.runIn(ns, ["ip", `-${family}`, "rule", "show"]), "ip rule show");
  return out.split("\n").filter(Boolean).map((l) => l.replace(/\s+/g, " ").trim());
}

/** A UDP listener on port 9999 in `ns`; `heard()` is everything it printed so far. */
export async function startUdpListener(
  lab: NetnsLab,
  ns: string,
): Promise<{ heard(): string }> {
  const child = lab.spawnIn(ns, [PYTHON, "-u", "-c", UDP_LISTENER_PY]);
  let text = "";
  const collect = (s: ReadableStream<Uint8Array>) =>
    s.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (c) => void (text += c) }),
    ).catch(() => {});
  void collect(child.stderr);
  const { rest } = await waitForLine(child.stdout, (l) => l === "ready").catch((e) => {
    throw new Error(`UDP listener in ${ns}: ${(e as Error).message}\n${text}`);
  });
  void rest.pipeTo(new WritableStream({ write: (c) => void (text += c + "\n") })).catch(() => {});
  return { heard: () => text };
}

/** One answer of the agent. */
export interface AgentReply {
  ok: boolean;
  error?: string;
  errno?: number;
  count?: number;
  rules?: string[];
  warnings?: string[];
}

/** A running agent: `send` writes one command and waits for its answer. */
export interface RulesAgent {
  /** The agent process (`ip netns exec ... deno run`). */
  child: Deno.ChildProcess;
  send(command: Record<string, unknown>): Promise<AgentReply>;
  /** Like `send`, but throws on `ok: false`. */
  must(command: Record<string, unknown>): Promise<AgentReply>;
}

/** Starts the agent in `ns` (only --allow-ffi); the lab kills it in cleanup. */
export async function startRulesAgent(lab: NetnsLab, ns: string): Promise<RulesAgent> {
  const script = new URL(import.meta.url).pathname;
  const child = lab.spawnDenoIn(ns, script, [], ["--allow-ffi", "--no-prompt"]);
  let stderr = "";
  void child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (c) => void (stderr += c) }),
  ).catch(() => {});
  const { rest } = await waitForLine(child.stdout, (l) => l === "ready").catch((e) => {
    throw new Error(`${(e as Error).message}\nstderr:\n${stderr}`);
  });
  const reader = rest.getReader();
  const writer = child.stdin.getWriter();
  const send = async (command: Record<string, unknown>): Promise<AgentReply> => {
    await writer.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
    const { value, done } = await reader.read();
    if (done) throw new Error(`rules agent ended; stderr:\n${stderr}`);
    return JSON.parse(value);
  };
  return {
    child,
    send,
    async must(command) {
      const r = await send(command);
      if (!r.ok) throw new Error(`${JSON.stringify(command)}: ${r.error}`);
      return r;
    },
  };
}

/** A RuleSpec with text prefixes. */
export type JsonRule = Omit<RuleSpec, "from" | "to"> & { from?: string; to?: string };

/** One policy line: selectors as text, as in the YAML `policies:` list. */
export interface JsonPolicy {
  label?: string;
  local?: string;
  remote?: string;
  protocol?: string;
  localPort?: string;
  remotePort?: string;
  action: SpdAction;
}

function prefix(text: string): RulePrefix {
  const [a, l] = text.split("/");
  const ip = parseIp(a);
  if (!ip) throw new Error(`bad prefix ${text}`);
  return { address: ipToBytes(ip), prefixLength: Number(l ?? (ip.version === 4 ? 32 : 128)) };
}

/** JsonRule -> RuleSpec. */
export function toRule(j: JsonRule): RuleSpec {
  const { from, to, ...rest } = j;
  return { ...rest, ...(from ? { from: prefix(from) } : {}), ...(to ? { to: prefix(to) } : {}) };
}

/** JsonPolicy -> SpdEntry (PROTECT gets minimal transport-mode processing info). */
export function toEntry(p: JsonPolicy): SpdEntry {
  const s: Selector = {
    localAddress: parseAddressSelector(p.local ?? "any"),
    remoteAddress: parseAddressSelector(p.remote ?? "any"),
    protocol: parseProtocol(p.protocol ?? "any"),
    localPort: parsePortSelector(p.localPort ?? "any"),
    remotePort: parsePortSelector(p.remotePort ?? "any"),
  };
  return {
    ...(p.label ? { label: p.label } : {}),
    selectors: [s],
    action: p.action,
    ...(p.action === "protect"
      ? { processing: { protocol: "esp", mode: "transport", proposals: [] } }
      : {}),
  };
}

if (import.meta.main) {
  const nl = Netlink.open();
  let guard: InboundGuard | null = null;
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buf = "";
  console.log("ready");
  for await (const chunk of lines) {
    buf += chunk;
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    for (const line of parts.filter((l) => l.trim())) {
      const c = JSON.parse(line);
      try {
        if (c.op === "add") {
          nl.addRule(toRule(c.rule));
          console.log(JSON.stringify({ ok: true }));
        } else if (c.op === "del") {
          nl.deleteRule(toRule(c.rule));
          console.log(JSON.stringify({ ok: true }));
        } else if (c.op === "delAt") {
          console.log(JSON.stringify({ ok: true, count: nl.deleteRulesAt(c.family, c.priority) }));
        } else if (c.op === "guard") {
          guard ??= new InboundGuard({ tunName: c.tunName }, nl);
          const plan = guard.apply((c.entries as JsonPolicy[]).map(toEntry));
          console.log(JSON.stringify({
            ok: true,
            rules: plan.rules.map(describeRule),
            warnings: plan.warnings,
          }));
        } else if (c.op === "unguard") {
          guard?.remove();
          console.log(JSON.stringify({ ok: true }));
        } else throw new Error(`unknown op ${c.op}`);
      } catch (e) {
        const errno = e instanceof NetlinkError ? e.errno : undefined;
        console.log(JSON.stringify({ ok: false, error: (e as Error).message, errno }));
      }
    }
  }
  nl.close();
}
