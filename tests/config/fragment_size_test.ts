/**
 * `fragment_size` (per connection): the largest IP packet for IKE messages
 * before RFC 7383 fragmenting, like strongSwan's global `charon.fragment_size`.
 * Unset leaves the engine default (1280); bad values name file:line:col.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/config.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { toPeerConfig } from "../../lib/config/to_peer_config.ts";
import { pskConnection as conn } from "../helpers/config_yaml.ts";

Deno.test("config: fragment_size reaches PeerConfig.fragmentSize", () => {
  for (const n of [576, 1280, 1500, 65535]) {
    const c = parseConfig(conn(`    fragment_size: ${n}`)).connections[0];
    assert.equal(c.fragmentSize, n);
    assert.equal(toPeerConfig(c).fragmentSize, n);
  }
});

Deno.test("config: without fragment_size the engine default applies (no fragmentSize)", () => {
  const c = parseConfig(conn("")).connections[0];
  assert.equal(c.fragmentSize, undefined);
  assert.equal("fragmentSize" in toPeerConfig(c), false);
});

Deno.test("config: a bad fragment_size is reported at file:line:col with the valid range", () => {
  for (const bad of ["575", "65536", "0", "1k", "-1", "12.5", "big"]) {
    const text = conn(`    fragment_size: ${bad}`);
    assert.throws(() => parseConfig(text, { file: "ipsec.yaml" }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.issues.length, 1, e.message);
      const i = e.issues[0];
      assert.equal(i.file, "ipsec.yaml");
      assert.equal(i.line, 5, e.message); // the line of `fragment_size:`
      assert.equal(i.col, 20, e.message); // the column of its value
      assert.match(i.path ?? "", /fragment_size/);
      assert.match(i.message, /expected an integer 576\.\.65535/);
      return true;
    });
  }
});
