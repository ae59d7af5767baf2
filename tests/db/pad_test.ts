import assert from "node:assert/strict";
import { parseIdentity, parseIdentityPattern } from "../../lib/db/identity.ts";
import { anyTs, selectorToTs } from "../../lib/db/narrow.ts";
import { constrainPeerTs, Pad, type PadEntry, PadError, peerTsAllowed } from "../../lib/db/pad.ts";
import { ANY_SELECTOR, parseAddressSelector } from "../../lib/db/selector.ts";

const enc = (s: string) => new TextEncoder().encode(s);

function entry(label: string, id: string, extra: Partial<PadEntry> = {}): PadEntry {
  return {
    label,
    id: parseIdentityPattern(id),
    auth: { method: "psk", secret: enc(`psk-${label}`) },
    allowedTs: [anyTs(4)],
    spdLookup: "ts",
    ...extra,
  };
}

Deno.test("Pad.match(): every RFC 4301 section 4.4.3.1 ID kind, first match wins", () => {
  const pad = new Pad([
    entry("dns-exact", "gw.example.com"),
    entry("dns-subtree", "*.example.com"),
    entry("dn-exact", "C=CH, O=Example, CN=gw"),
    entry("dn-subtree", "C=CH, O=Example, *"),
    entry("mail-full", "alice@example.org"),
    entry("mail-domain", "*@example.org"),
    entry("v4-range", "192.0.2.0/24"),
    entry("v6-range", "2001:db8::1-2001:db8::ff"),
    entry("keyid", "@#0a0b0c"),
  ]);
  const m = (id: string) => pad.match(parseIdentity(id))?.label;
  assert.equal(m("gw.example.com"), "dns-exact");
  assert.equal(m("vpn.example.com"), "dns-subtree");
  assert.equal(m("a.b.example.com"), "dns-subtree");
  assert.equal(m("example.com"), undefined, "a subtree does not include its root");
  assert.equal(m("badexample.com"), undefined);
  assert.equal(m("C=CH, O=Example, CN=gw"), "dn-exact");
  assert.equal(m("C=CH, O=Example, OU=Sales, CN=bob"), "dn-subtree");
  assert.equal(m("C=DE, O=Example, CN=gw"), undefined);
  assert.equal(m("alice@example.org"), "mail-full");
  assert.equal(m("bob@example.org"), "mail-domain");
  assert.equal(m("bob@sub.example.org"), undefined);
  assert.equal(m("192.0.2.77"), "v4-range");
  assert.equal(m("192.0.3.1"), undefined);
  assert.equal(m("2001:db8::80"), "v6-range");
  assert.equal(m("2001:db8::100"), undefined);
  assert.equal(m("@#0a0b0c"), "keyid");
  assert.equal(m("@#0a0b0d"), undefined);
  // An FQDN that looks like an address pattern never matches the address entry.
  assert.equal(m("fqdn:192.0.2.5"), undefined);
});

Deno.test("Pad.checkPsk(): only the matching entry's secret", () => {
  const pad = new Pad([
    entry("a", "a.example.com"),
    entry("certs", "*.example.com", { auth: { method: "pubkey", trustAnchors: [] } }),
  ]);
  assert.ok(pad.checkPsk(parseIdentity("a.example.com"), enc("psk-a")));
  assert.ok(!pad.checkPsk(parseIdentity("a.example.com"), enc("psk-b")));
  assert.ok(!pad.checkPsk(parseIdentity("b.example.com"), enc("psk-a")), "pubkey entry");
  assert.ok(!pad.checkPsk(parseIdentity("other.org"), enc("psk-a")), "no entry");
  assert.throws(
    () => new Pad([entry("e", "x", { auth: { method: "psk", secret: new Uint8Array() } })]),
    PadError,
  );
});

Deno.test("constrainPeerTs(): the peer keeps only what it may claim", () => {
  const allowed = selectorToTs(
    { ...ANY_SELECTOR, remoteAddress: parseAddressSelector("10.3.0.0/24") },
    "remote",
  );
  const e = entry("rw", "%any", { allowedTs: allowed });
  const got = constrainPeerTs(e, [anyTs(4), anyTs(6)]);
  assert.equal(got.length, 1);
  assert.ok(peerTsAllowed(e, got));
  assert.ok(!peerTsAllowed(e, [anyTs(4)]));
  assert.deepStrictEqual(constrainPeerTs(entry("none", "%any", { allowedTs: [] }), [anyTs(4)]), []);
});
