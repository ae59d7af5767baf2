import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/config.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { daemonConfig } from "../../lib/daemon/runtime.ts";

const yaml = (child: string) =>
  `connections:
  site:
    local_addrs: [192.0.2.1]
    remote_addrs: [192.0.2.2]
    local: { auth: psk, id: a.example.org }
    remote: { auth: psk, id: b.example.org }
    children:
      net:
        local_ts: [10.1.0.0/16]
        remote_ts: [10.2.0.0/16]
${child}
      other:
        local_ts: [10.1.0.0/16]
        remote_ts: [10.3.0.0/16]
secrets:
  s: { id: [a.example.org, b.example.org], secret: "a long enough secret here" }
`;

Deno.test("daemon config: each child's packet settings reach the data plane payload", () => {
  const c = daemonConfig(
    parseConfig(
      yaml(
        "        replay_window: 0\n        copy_df: no\n        copy_dscp: no\n        copy_ecn: no\n" +
          "        tfc_padding: mtu",
      ),
      { file: "t.yaml" },
    ),
    "t.yaml",
  );
  const tun = c.payload.dataplane.tunMtu ?? 1400;
  assert.deepEqual(c.payload.children?.get("site/net"), {
    replayWindow: 0,
    copyDf: false,
    copyDscp: false,
    copyEcn: false,
    tfcPadTo: tun,
  });
  assert.deepEqual(c.payload.children?.get("site/other"), {
    replayWindow: 1024,
    copyDf: true,
    copyDscp: true,
    copyEcn: true,
    tfcPadTo: 0,
  });
  const bytes = daemonConfig(
    parseConfig(yaml("        tfc_padding: 1000"), { file: "t.yaml" }),
    "t.yaml",
  );
  assert.equal(bytes.payload.children?.get("site/net")?.tfcPadTo, 1000);
});

Deno.test("config: tfc_padding takes 0..65535 or mtu", () => {
  assert.throws(
    () => parseConfig(yaml("        tfc_padding: lots"), { file: "t.yaml" }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /connections\.site\.children\.net\.tfc_padding: 'lots' is not valid/.test(e.message),
  );
});
