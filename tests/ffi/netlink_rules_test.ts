import assert from "node:assert/strict";
import { describeRule } from "../../ffi/netlink.ts";
import { NetnsLab } from "../helpers/netns.ts";
import { type JsonRule, startRulesAgent, toRule } from "./_netlink_rules_agent.ts";

// Each rule is added twice: by our netlink code in one namespace and by
// iproute2 (`ip rule add`, an independent netlink client) in another. The
// kernel's dumps (`ip -j rule show`) of both namespaces must be identical, so
// every attribute we encode means to the kernel what `ip` means by it.
const CASES: { rule: JsonRule; ip: string }[] = [
  {
    rule: {
      family: 4,
      priority: 100,
      action: "blackhole",
      from: "10.2.0.0/16",
      to: "10.1.0.0/24",
      iif: "eth9",
      ipProto: 17,
      sport: [1000, 2000],
      dport: [53, 53],
    },
    ip:
      "pref 100 from 10.2.0.0/16 to 10.1.0.0/24 iif eth9 ipproto udp sport 1000-2000 dport 53 blackhole",
  },
  {
    rule: { family: 4, priority: 100, action: "goto", goto: 102, iif: "lo" },
    ip: "pref 100 iif lo goto 102",
  },
  {
    rule: { family: 4, priority: 101, action: "unreachable", ipProto: 6, dport: [22, 22] },
    ip: "pref 101 ipproto tcp dport 22 unreachable",
  },
  {
    rule: { family: 4, priority: 101, action: "nop", fwmark: 0x10, fwmask: 0xff },
    ip: "pref 101 fwmark 0x10/0xff nop",
  },
  { rule: { family: 4, priority: 102, table: 255 }, ip: "pref 102 lookup local" },
  {
    rule: { family: 4, priority: 103, table: 1000, invert: true, fwmark: 0x5000 },
    ip: "pref 103 not fwmark 0x5000 lookup 1000",
  },
  {
    rule: {
      family: 6,
      priority: 101,
      action: "prohibit",
      from: "2001:db8::/32",
      ipProto: 58,
      oif: "x0",
    },
    ip: "pref 101 from 2001:db8::/32 ipproto ipv6-icmp oif x0 prohibit",
  },
  {
    rule: {
      family: 6,
      priority: 100,
      action: "blackhole",
      from: "2001:db8:2::1/128",
      to: "2001:db8:1::/48",
      ipProto: 6,
      sport: [1024, 65534],
    },
    ip: "pref 100 from 2001:db8:2::1/128 to 2001:db8:1::/48 ipproto tcp sport 1024-65534 blackhole",
  },
];

Deno.test("netlink rules: what we add equals what `ip rule add` adds, and deletes remove it", async () => {
  const lab = await NetnsLab.create("th2-");
  try {
    const ours = await lab.addNs("nlr-ours");
    const theirs = await lab.addNs("nlr-ip");
    const agent = await startRulesAgent(lab, ours);
    const dump = async (ns: string, family: 4 | 6) =>
      (await lab.runIn(ns, ["ip", family === 4 ? "-4" : "-6", "-j", "rule", "show"])).stdout;
    const defaults = { 4: await dump(ours, 4), 6: await dump(ours, 6) };
    for (const c of CASES) {
      await agent.must({ op: "add", rule: c.rule });
      const r = await lab.runIn(theirs, [
        "ip",
        c.rule.family === 4 ? "-4" : "-6",
        "rule",
        "add",
        ...c.ip.split(" "),
      ]);
      assert.equal(r.code, 0, `ip rule add ${c.ip}: ${r.stderr}`);
    }
    for (const f of [4, 6] as const) {
      const mine = await dump(ours, f);
      assert.deepEqual(JSON.parse(mine), JSON.parse(await dump(theirs, f)));
      assert.notEqual(mine, defaults[f]);
    }
    // `ip rule show` text for two of them, written by hand.
    const text = (await lab.runIn(ours, ["ip", "rule", "show"])).stdout;
    assert.match(
      text,
      /^100:\tfrom 10\.2\.0\.0\/16 to 10\.1\.0\.0\/24 iif eth9 \[detached\] ipproto udp sport 1000-2000 dport 53 blackhole$/m,
    );
    assert.match(text, /^100:\tfrom all iif lo goto 102$/m);

    // The same rule again: the kernel says EEXIST.
    const dup = await agent.send({ op: "add", rule: CASES[0].rule });
    assert.equal(dup.ok, false);
    assert.equal(dup.errno, 17, dup.error);

    for (const c of CASES) await agent.must({ op: "del", rule: c.rule });
    assert.equal(await dump(ours, 4), defaults[4]);
    assert.equal(await dump(ours, 6), defaults[6]);
    const gone = await agent.send({ op: "del", rule: CASES[0].rule });
    assert.equal(gone.errno, 2, gone.error);
  } finally {
    await lab.cleanup();
  }
});

Deno.test("netlink rules: deleteRulesAt() removes every rule at one priority and no other", async () => {
  const lab = await NetnsLab.create("th2-");
  try {
    const ns = await lab.addNs("nlr-at");
    const agent = await startRulesAgent(lab, ns);
    for (const rule of [CASES[0].rule, CASES[1].rule, CASES[2].rule]) {
      await agent.must({ op: "add", rule });
    }
    assert.equal((await agent.must({ op: "delAt", family: 4, priority: 100 })).count, 2);
    assert.equal((await agent.must({ op: "delAt", family: 4, priority: 100 })).count, 0);
    const left = JSON.parse((await lab.runIn(ns, ["ip", "-j", "rule", "show"])).stdout) as {
      priority: number;
    }[];
    assert.deepEqual(left.map((r) => r.priority), [0, 101, 32766, 32767]);
  } finally {
    await lab.cleanup();
  }
});

Deno.test("netlink rules: invalid specs are refused before anything is sent", async () => {
  const lab = await NetnsLab.create("th2-");
  try {
    const ns = await lab.addNs("nlr-bad");
    const agent = await startRulesAgent(lab, ns);
    const bad: [JsonRule, RegExp][] = [
      [{ family: 4, priority: 100 }, /needs a table/],
      [{ family: 4, priority: 100, action: "goto", goto: 100 }, /target priority above/],
      [{ family: 4, priority: 100, action: "blackhole", from: "10.2.0.1/16" }, /host bits/],
      [{ family: 6, priority: 100, action: "blackhole", from: "10.2.0.0/16" }, /IPv6 prefix/],
      [{ family: 4, priority: 100, action: "blackhole", dport: [9, 8] }, /port range/],
      // The kernel refuses ranges touching 0 or 65535 ("Invalid sport range"): so do we.
      [{ family: 4, priority: 100, action: "blackhole", sport: [1024, 65535] }, /1\.\.65534/],
      [{ family: 4, priority: 100, action: "blackhole", dport: [0, 80] }, /1\.\.65534/],
      [{ family: 4, priority: 100, action: "blackhole", iif: "a-very-long-name0" }, /1\.\.15/],
    ];
    for (const [rule, why] of bad) {
      const r = await agent.send({ op: "add", rule });
      assert.equal(r.ok, false);
      assert.equal(r.errno, undefined);
      assert.match(r.error ?? "", why);
    }
    assert.equal((await lab.runIn(ns, ["ip", "rule", "show"])).stdout.split("\n").length, 4);
  } finally {
    await lab.cleanup();
  }
});

Deno.test("describeRule() prints rules in `ip rule` syntax", () => {
  assert.equal(
    describeRule(toRule(CASES[0].rule)),
    "100: from 10.2.0.0/16 to 10.1.0.0/24 iif eth9 ipproto 17 sport 1000-2000 dport 53 blackhole",
  );
  assert.equal(describeRule(toRule(CASES[5].rule)), "103: not from all fwmark 0x5000 lookup 1000");
  // IPv6 in RFC 5952 form, as `ip` prints it.
  assert.equal(
    describeRule(toRule(CASES[7].rule)),
    "100: from 2001:db8:2::1/128 to 2001:db8:1::/48 ipproto 6 sport 1024-65534 blackhole",
  );
  const v6 = (from: string) =>
    describeRule(toRule({ family: 6, priority: 1, action: "nop", from })).slice(8, -4);
  assert.equal(v6("::/0"), "::/0");
  assert.equal(v6("::1/128"), "::1/128");
  assert.equal(v6("2001:0:0:1::/64"), "2001:0:0:1::/64");
  assert.equal(v6("2001:db8:0:0:1:0:0:1/128"), "2001:db8::1:0:0:1/128");
  assert.equal(v6("fe80::/10"), "fe80::/10");
});
