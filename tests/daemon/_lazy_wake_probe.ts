/**
 * Run inside a fresh namespace by dataplane_wake_netns_test.ts: starts the
 * real data plane (two Workers), installs outbound SAs without waking their
 * Worker, and prints what it saw as one JSON line.
 */
import { Dataplane } from "../../lib/dataplane/dataplane.ts";
import type { SaSpec } from "../../lib/dataplane/sa_spec.ts";
import type { Selector } from "../../lib/db/selector.ts";

const any: Selector = {
  localAddress: { kind: "any" },
  remoteAddress: { kind: "any" },
  protocol: "any",
  localPort: { kind: "any" },
  remotePort: { kind: "any" },
};
const spec = (spi: number, direction: "in" | "out"): SaSpec => ({
  direction,
  protocol: "esp",
  spi,
  mode: "tunnel",
  local: new Uint8Array([192, 0, 2, 1]),
  remote: new Uint8Array([192, 0, 2, 2]),
  encryption: {
    alg: "aes-gcm",
    key: new Uint8Array(32),
    salt: new Uint8Array(4),
    icvLength: 16,
  },
  esn: false,
  selectors: [any],
  limits: {},
});

const dp = await Dataplane.start({ tunName: "alazy0", inboundGuard: false });
const outSpis = async () =>
  (await dp.stats()).sas.filter((s) => s.direction === "out").map((s) => s.spi).sort();
try {
  // 1. Not woken: a call that wakes the Worker after it finds it applied first.
  const lazy = dp.installSa(spec(0x1001, "out"), { wake: false });
  const seenByNext = await outSpis();
  await lazy;
  // 2. Not woken and nothing else: it still goes in (the deferred wake-up).
  await dp.installSa(spec(0x1002, "out"), { wake: false });
  const alone = await outSpis();
  // 3. Lazy, then a removal of the same SA (woken): applied in that order.
  const a = dp.installSa(spec(0x1003, "out"), { wake: false });
  const removed = await dp.removeSa("out", "esp", 0x1003);
  await a;
  console.log(JSON.stringify({ seenByNext, alone, removed, after: await outSpis() }));
} finally {
  await dp.stop();
}
