import assert from "node:assert/strict";
import { decodeMessage, IkeEngine, loadConfig, toEngineConfig } from "../mod.ts";
import { ExchangeType, PayloadType } from "../lib/ikev2/constants.ts";

// The @example of mod.ts: a configuration file drives the sans-I/O engine, whose
// first effect is an IKE_SA_INIT request to the configured peer.
Deno.test("mod.ts: example config -> IkeEngine.initiate -> IKE_SA_INIT to the peer", async () => {
  const config = await loadConfig(
    new URL("../examples/site_to_site.yaml", import.meta.url).pathname,
  );
  const engine = new IkeEngine(toEngineConfig(config));
  const sends = engine.initiate("site-a", Date.now()).filter((e) => e.kind === "send");
  assert.equal(sends.length, 1);
  const send = sends[0];
  assert.ok(send.kind === "send");
  assert.deepEqual(send.to, { address: "198.51.100.1", port: 500 });
  const msg = decodeMessage(send.bytes);
  assert.equal(msg.header.exchangeType, ExchangeType.IKE_SA_INIT);
  assert.ok(msg.header.initiator && !msg.header.response);
  const types = msg.payloads.map((p) => p.type);
  for (const t of [PayloadType.SA, PayloadType.KE, PayloadType.NONCE]) {
    assert.ok(types.includes(t), `IKE_SA_INIT lacks payload ${t}`);
  }
});
