/**
 * Shared plumbing for the FFI namespace tests: the agent script path and a
 * reader that collects the agent's JSON lines.
 *
 * @module
 */

import { type NetnsLab, waitForLine } from "../helpers/netns.ts";

/** Path of the agent run inside namespaces. */
export const AGENT = new URL("./_agent.ts", import.meta.url).pathname;

/** A running agent: `lines()` yields its JSON output after "ready". */
export interface Agent {
  child: Deno.ChildProcess;
  next(): Promise<Record<string, unknown>>;
}

/**
 * Starts the agent (`script`, default {@linkcode AGENT}) in `ns` with only
 * --allow-ffi and waits for "ready" (or its first line).
 */
export async function startAgent(
  lab: NetnsLab,
  ns: string,
  args: readonly string[],
  waitReady = true,
  script = AGENT,
): Promise<Agent> {
  const child = lab.spawnDenoIn(ns, script, args, ["--allow-ffi", "--no-prompt"]);
  const errText = child.stderr.pipeThrough(new TextDecoderStream());
  let stderr = "";
  errText.pipeTo(new WritableStream({ write: (c) => void (stderr += c) })).catch(() => {});
  let first: string | null = null;
  const { rest } = await waitForLine(child.stdout, (l) => {
    if (!waitReady) first = l;
    return true;
  }).catch((e) => {
    throw new Error(`${(e as Error).message}\nstderr:\n${stderr}`);
  });
  const reader = rest.getReader();
  return {
    child,
    async next() {
      if (first !== null) {
        const f = first;
        first = null;
        return JSON.parse(f);
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`agent ended; stderr:\n${stderr}`);
      return JSON.parse(value);
    },
  };
}

/**
 * Two namespaces `${tag}a` and `${tag}b` joined by veths `v${tag}0`/`v${tag}1`
 * with 192.0.2.1/24 and 192.0.2.2/24, and `${v6Prefix}1`/`${v6Prefix}2` /64.
 */
export async function twoHosts(
  lab: NetnsLab,
  tag: string,
  v6Prefix: string,
): Promise<[string, string]> {
  const a = await lab.addNs(`${tag}a`);
  const b = await lab.addNs(`${tag}b`);
  await lab.veth(a, `v${tag}0`, "192.0.2.1/24", b, `v${tag}1`, "192.0.2.2/24");
  await lab.runIn(a, ["ip", "addr", "add", `${v6Prefix}1/64`, "dev", `v${tag}0`, "nodad"]);
  await lab.runIn(b, ["ip", "addr", "add", `${v6Prefix}2/64`, "dev", `v${tag}1`, "nodad"]);
  return [a, b];
}
