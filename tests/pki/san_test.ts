import assert from "node:assert/strict";
import { parseSan } from "../../lib/pki/san.ts";
import { PkiError } from "../../lib/pki/pki_error.ts";

Deno.test("parseSan() detects the type like strongSwan's pki --san", () => {
  assert.deepEqual(parseSan("vpn.example.com"), { type: "dns", value: "vpn.example.com" });
  assert.deepEqual(parseSan("*.example.com"), { type: "dns", value: "*.example.com" });
  assert.deepEqual(parseSan("10.0.0.1"), { type: "ip", value: "10.0.0.1" });
  assert.deepEqual(parseSan("2001:db8::1"), { type: "ip", value: "2001:db8::1" });
  assert.deepEqual(parseSan("alice@example.com"), { type: "email", value: "alice@example.com" });
  assert.deepEqual(parseSan("dns:10.0.0.1"), { type: "dns", value: "10.0.0.1" });
  assert.deepEqual(parseSan("IP:192.0.2.1"), { type: "ip", value: "192.0.2.1" });
  assert.deepEqual(parseSan("email:ops@example.com"), { type: "email", value: "ops@example.com" });
});

Deno.test("parseSan() rejects malformed names with a hint", () => {
  assert.throws(() => parseSan(""), (e) => e instanceof PkiError && e.message === "empty SAN");
  assert.throws(() => parseSan("ip:not-an-ip"), /invalid IP address SAN 'not-an-ip'/);
  assert.throws(() => parseSan("a@b@c"), /invalid email SAN 'a@b@c'/);
  assert.throws(() => parseSan("bad name"), /invalid DNS name SAN 'bad name' \(use ip:, email:/);
  assert.throws(() => parseSan("dns:"), /empty dns SAN/);
});
