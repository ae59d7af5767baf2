import assert from "node:assert/strict";
import { generateKeyPair, type KeyPair } from "../../lib/pki/keys.ts";
import {
  issueCertificate,
  type IssueParams,
  selfSignCertificate,
  type X509Certificate,
} from "../../lib/pki/certificate.ts";
import { lintCertificate } from "../../lib/pki/lint.ts";

const NOW = new Date();

async function setup(): Promise<{ ca: X509Certificate; caKey: KeyPair; peer: KeyPair }> {
  const caKey = await generateKeyPair("ecdsa");
  const ca = await selfSignCertificate(caKey, {
    subject: "CN=CA",
    ca: true,
    lifetimeDays: 100,
    now: NOW,
  });
  return { ca, caKey, peer: await generateKeyPair("ed25519") };
}

async function issue(
  s: { ca: X509Certificate; caKey: KeyPair; peer: KeyPair },
  p: Partial<IssueParams>,
): Promise<X509Certificate> {
  return await issueCertificate({
    issuerCert: s.ca,
    issuerKey: s.caKey,
    subjectSpki: s.peer.spki,
    subject: "CN=vpn.example.com",
    lifetimeDays: 50,
    now: NOW,
    ...p,
  });
}

Deno.test("lintCertificate() is quiet for a gateway certificate IKEv2 clients accept", async () => {
  const s = await setup();
  const gw = await issue(s, {
    sans: ["vpn.example.com"],
    flags: ["serverAuth", "ikeIntermediate"],
  });
  assert.deepEqual(lintCertificate(gw, { issuer: s.ca }), []);
  const client = await issue(s, {
    subject: "CN=alice@example.com",
    sans: ["alice@example.com"],
    flags: ["clientAuth"],
  });
  assert.deepEqual(lintCertificate(client, { issuer: s.ca }), []);
});

Deno.test("lintCertificate() warns about a gateway certificate without a SAN for its ID", async () => {
  const s = await setup();
  const gw = await issue(s, {
    sans: ["other.example.com"],
    flags: ["serverAuth", "ikeIntermediate"],
  });
  const w = lintCertificate(gw, { issuer: s.ca });
  assert.equal(w.length, 1);
  assert.match(
    w[0],
    /^no subjectAltName matches 'vpn\.example\.com'.*add --san vpn\.example\.com$/,
  );
  // An explicit IKE ID is checked instead of the CN; a DN ID needs no SAN.
  assert.deepEqual(lintCertificate(gw, { issuer: s.ca, intendedId: "other.example.com" }), []);
  assert.deepEqual(lintCertificate(gw, { issuer: s.ca, intendedId: "CN=vpn.example.com" }), []);
  // An IP identity.
  const ipGw = await issue(s, {
    subject: "CN=192.0.2.1",
    sans: ["192.0.2.1"],
    flags: ["serverAuth", "ikeIntermediate"],
  });
  assert.deepEqual(lintCertificate(ipGw, { issuer: s.ca }), []);
});

Deno.test("lintCertificate() warns about missing serverAuth and ikeIntermediate EKUs", async () => {
  const s = await setup();
  const w = lintCertificate(await issue(s, { sans: ["vpn.example.com"] }), { issuer: s.ca });
  assert.equal(w.length, 2);
  assert.match(w[0], /lacks the serverAuth EKU.*add --flag serverAuth/);
  assert.match(
    w[1],
    /lacks the ikeIntermediate EKU \(1\.3\.6\.1\.5\.5\.8\.2\.2\).*--flag ikeIntermediate/,
  );
  const w2 = lintCertificate(await issue(s, { sans: ["vpn.example.com"], flags: ["serverAuth"] }), {
    issuer: s.ca,
  });
  assert.equal(w2.length, 1);
  assert.match(w2[0], /ikeIntermediate/);
});

Deno.test("lintCertificate() warns when the issuer is not a CA or expires first", async () => {
  const s = await setup();
  const notCa = await selfSignCertificate(s.caKey, { subject: "CN=Not CA", now: NOW });
  const cert = await issueCertificate({
    issuerCert: notCa,
    issuerKey: s.caKey,
    subjectSpki: s.peer.spki,
    subject: "CN=alice@example.com",
    sans: ["alice@example.com"],
    lifetimeDays: 5000,
    now: NOW,
  });
  const w = lintCertificate(cert, { issuer: notCa });
  assert.equal(w.length, 2);
  assert.match(w[0], /^issuing certificate "CN=Not CA" lacks basicConstraints CA:TRUE.*--ca\)$/);
  assert.match(w[1], /^certificate outlives its CA \(CA expires \d{4}-/);
});
