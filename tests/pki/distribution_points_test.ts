import assert from "node:assert/strict";
import { issueCertificate, selfSignCertificate } from "../../lib/pki/certificate.ts";
import { generateKeyPair } from "../../lib/pki/keys.ts";
import {
  chainDistributionPoints,
  distributionPointUris,
} from "../../lib/pki/distribution_points.ts";
import type { x509 } from "../../lib/pki/_x509.ts";
import { must } from "./_tools.ts";

const NOW = new Date("2026-06-01T00:00:00Z");

async function chain(cdp: { inter?: string[]; leaf?: string[] }) {
  const rootKey = await generateKeyPair("ecdsa", 256);
  const root = await selfSignCertificate(rootKey, { subject: "CN=Root", ca: true, now: NOW });
  const interKey = await generateKeyPair("ecdsa", 256);
  const inter = await issueCertificate({
    subject: "CN=Intermediate",
    ca: true,
    issuerCert: root,
    issuerKey: rootKey,
    subjectSpki: interKey.spki,
    now: NOW,
    ...(cdp.inter ? { crlUris: cdp.inter } : {}),
  });
  const leafKey = await generateKeyPair("ecdsa", 256);
  const leaf = await issueCertificate({
    subject: "CN=peer",
    sans: ["peer.example.org"],
    issuerCert: inter,
    issuerKey: interKey,
    subjectSpki: leafKey.spki,
    now: NOW,
    ...(cdp.leaf ? { crlUris: cdp.leaf } : {}),
  });
  const der = (c: x509.X509Certificate) => new Uint8Array(c.rawData);
  return { root: der(root), inter: der(inter), leaf: der(leaf), leafCert: leaf };
}

Deno.test("distributionPointUris: what openssl reads in the extension", async () => {
  const uris = ["http://crl.example.org/a.crl", "ldap://ldap.example.org/cn=CA"];
  const c = await chain({ leaf: uris });
  assert.deepEqual(distributionPointUris(c.leafCert), uris);
  const pem = `-----BEGIN CERTIFICATE-----\n${
    btoa(String.fromCharCode(...c.leaf))
  }\n-----END CERTIFICATE-----\n`;
  const tmp = await Deno.makeTempFile({ suffix: ".pem" });
  try {
    await Deno.writeTextFile(tmp, pem);
    const text = (await must("openssl", [
      "x509",
      "-in",
      tmp,
      "-noout",
      "-ext",
      "crlDistributionPoints",
    ])).stdout;
    for (const u of uris) assert.ok(text.includes(`URI:${u}`), text);
  } finally {
    await Deno.remove(tmp);
  }
});

Deno.test("chainDistributionPoints: every certificate on a trusted path but the anchor", async () => {
  const c = await chain({ inter: ["http://x/root.crl"], leaf: ["http://x/inter.crl"] });
  const t = NOW.getTime() + 1000;
  assert.deepEqual(chainDistributionPoints([c.leaf, c.inter], [c.root], t), [
    "http://x/inter.crl",
    "http://x/root.crl",
  ]);
  // The intermediate is our anchor: its own CDP (the root's CRL) is not ours to check.
  assert.deepEqual(chainDistributionPoints([c.leaf], [c.inter], t), ["http://x/inter.crl"]);
  // Not chaining to what we trust: nothing to fetch.
  const other = await chain({});
  assert.deepEqual(chainDistributionPoints([c.leaf, c.inter], [other.root], t), []);
  // No CDP anywhere: nothing.
  assert.deepEqual(chainDistributionPoints([other.leaf, other.inter], [other.root], t), []);
});
