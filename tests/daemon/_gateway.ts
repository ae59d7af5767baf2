/**
 * The road-warrior gateway of examples/road_warrior_gateway.yaml as the
 * adapter tests (adapters_test.ts, adapter_pipeline_test.ts) drive it: its
 * SPD, and client `n`'s child SAs as the engine installs and removes them.
 *
 * @module
 */
import type { SaInstall } from "../../lib/ikev2/effects.ts";
import type { SpdEntry } from "../../lib/db/spd.ts";
import { buildSpdEntries } from "../../lib/config/build.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { sa } from "./_fakes.ts";

const GATEWAY = await Deno.readTextFile(
  new URL("../../examples/road_warrior_gateway.yaml", import.meta.url),
);

/** The gateway's SPD entries (the named "rw/intranet" entry among them). */
export function gatewaySpd(): SpdEntry[] {
  return buildSpdEntries(parseConfig(GATEWAY));
}

/** Client `n`'s child SA direction on the gateway: 10.1.0.0/16 <-> 10.3.0.n. */
export function clientSa(n: number, direction: "in" | "out", spi: number): SaInstall {
  const base = sa(n, n * 10, "rw", direction, spi);
  const vip = new Uint8Array([10, 3, 0, n]);
  return {
    ...base,
    childName: "intranet",
    remoteTs: [{ ...base.remoteTs[0], startAddress: vip, endAddress: vip }],
  };
}

/** The engine's removal of client `n`'s outbound SA. */
export function removeOut(n: number, spi: number) {
  const e = { kind: "removeSa", ikeSaId: n, childSaId: n * 10, protocol: "esp" } as const;
  return { ...e, direction: "out", spi, dst: "192.0.2.2" } as const;
}
