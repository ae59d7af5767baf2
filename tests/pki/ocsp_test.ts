/**
 * OCSP requests and responses against OpenSSL's responder (`openssl ocsp
 * -index`, run offline on our request): what it answers for good, revoked
 * and unknown certificates, signed by the CA or a delegated responder, and
 * what must be refused (a responder without OCSPSigning, a bad signature,
 * another nonce, another CA's answer). OpenSSL also reads our requests.
 */
import assert from "node:assert/strict";
import {
  issueCertificate,
  selfSignCertificate,
  type X509Certificate,
} from "../../lib/pki/certificate.ts";
import { exportPrivateKeyPem, generateKeyPair, type KeyPair } from "../../lib/pki/keys.ts";
import { encodePem } from "../../lib/pki/pem.ts";
import { normalizeSerial } from "../../lib/pki/crl.ts";
import {
  checkOcspResponse,
  describeOcspStatus,
  ocspCertId,
  OcspError,
  ocspRequest,
} from "../../lib/pki/ocsp.ts";
import { must, ocspIndexLine, opensslOcspRespond, withTempDir } from "./_tools.ts";

const NOW = new Date();
const der = (c: X509Certificate) => new Uint8Array(c.rawData);

interface Ca {
  cert: X509Certificate;
  key: KeyPair;
}

async function makeCa(cn: string): Promise<Ca> {
  const key = await generateKeyPair("ecdsa", 256);
  const cert = await selfSignCertificate(key, {
    subject: `O=OCSP test, CN=${cn}`,
    ca: true,
    now: new Date(NOW.getTime() - 86_400_000),
  });
  return { cert, key };
}

async function leaf(ca: Ca, cn: string, flags?: ["ocspSigning"]): Promise<Ca> {
  const key = await generateKeyPair("ecdsa", 256);
  const cert = await issueCertificate({
    subject: `O=OCSP test, CN=${cn}`,
    sans: [`${cn}.example.org`],
    issuerCert: ca.cert,
    issuerKey: ca.key,
    subjectSpki: key.spki,
    now: new Date(NOW.getTime() - 86_400_000),
    ...(flags ? { flags } : {}),
  });
  return { cert, key };
}

/** An OpenSSL CA database line (index.txt). */
function indexLine(c: X509Certificate, revoked?: string): string {
  return ocspIndexLine(c.serialNumber, c.subject.replace(/^.*CN=/, ""), revoked);
}

async function writePem(path: string, c: X509Certificate) {
  await Deno.writeTextFile(path, encodePem("CERTIFICATE", der(c)));
}

/** OpenSSL's responder answers `request` from `index` lines, signed by `signer`. */
async function opensslAnswer(
  dir: string,
  request: Uint8Array,
  ca: Ca,
  index: string[],
  signer: Ca = ca,
): Promise<Uint8Array> {
  await writePem(`${dir}/ca.pem`, ca.cert);
  await writePem(`${dir}/signer.pem`, signer.cert);
  await Deno.writeTextFile(`${dir}/signer.key`, await exportPrivateKeyPem(signer.key));
  return opensslOcspRespond(dir, {
    request,
    index,
    caPem: `${dir}/ca.pem`,
    signerPem: `${dir}/signer.pem`,
    signerKey: `${dir}/signer.key`,
  });
}

const NONCE = Uint8Array.from({ length: 16 }, (_, i) => i + 1);

Deno.test("OCSP: OpenSSL reads our request (CertID, serial, nonce)", async () => {
  const ca = await makeCa("CA");
  const alice = await leaf(ca, "alice");
  await withTempDir(async ({ dir }) => {
    const id = ocspCertId(der(alice.cert), der(ca.cert));
    await Deno.writeFile(`${dir}/req.der`, ocspRequest(id, NONCE));
    const text = (await must("openssl", ["ocsp", "-reqin", `${dir}/req.der`, "-req_text"])).stdout;
    assert.match(text, /Hash Algorithm: sha1/);
    const serial = normalizeSerial(alice.cert.serialNumber).toUpperCase();
    assert.ok(
      text.replace(/^0+/, "").includes(
        `Serial Number: ${serial.length % 2 ? "0" + serial : serial}`,
      ),
      text,
    );
    assert.match(text, /OCSP Nonce:\s+0410?0102030405060708090A0B0C0D0E0F10/, text);
  });
});

Deno.test("OCSP: good, revoked (with reason) and unknown answers of OpenSSL's responder", async () => {
  const ca = await makeCa("CA");
  const alice = await leaf(ca, "alice");
  const carol = await leaf(ca, "carol");
  const dave = await leaf(ca, "dave");
  const index = [indexLine(alice.cert), indexLine(carol.cert, "260101000000Z,keyCompromise")];
  await withTempDir(async ({ dir }) => {
    for (const [who, want] of [[alice, "good"], [carol, "revoked"], [dave, "unknown"]] as const) {
      const id = ocspCertId(der(who.cert), der(ca.cert));
      const resp = await opensslAnswer(dir, ocspRequest(id, NONCE), ca, index);
      const s = checkOcspResponse(resp, {
        certId: id,
        issuer: der(ca.cert),
        nonce: NONCE,
        now: Date.now(),
      });
      assert.equal(s.status, want);
      assert.equal(s.signer, "the issuer");
      assert.ok(s.nextUpdate && s.nextUpdate.getTime() > Date.now());
      if (want === "revoked") {
        assert.equal(s.revocationTime!.toISOString(), "2026-01-01T00:00:00.000Z");
        assert.equal(s.reason, 1);
        assert.equal(describeOcspStatus(s), "revoked on 2026-01-01T00:00:00.000Z (keyCompromise)");
      }
    }
  });
});

Deno.test("OCSP: a delegated responder needs the CA's signature and OCSPSigning", async () => {
  const ca = await makeCa("CA");
  const alice = await leaf(ca, "alice");
  const responder = await leaf(ca, "ocsp", ["ocspSigning"]);
  const noEku = await leaf(ca, "not-ocsp");
  const other = await makeCa("Other CA");
  const stranger = await leaf(other, "ocsp", ["ocspSigning"]);
  const index = [indexLine(alice.cert)];
  await withTempDir(async ({ dir }) => {
    const id = ocspCertId(der(alice.cert), der(ca.cert));
    const q = { certId: id, issuer: der(ca.cert), nonce: NONCE, now: Date.now() };
    const ok = await opensslAnswer(dir, ocspRequest(id, NONCE), ca, index, responder);
    const s = checkOcspResponse(ok, q);
    assert.equal(s.status, "good");
    assert.equal(s.signer, `the responder "O=OCSP test, CN=ocsp"`);
    const bad = await opensslAnswer(dir, ocspRequest(id, NONCE), ca, index, noEku);
    assert.throws(
      () => checkOcspResponse(bad, q),
      (e) => e instanceof OcspError && /lacks the OCSPSigning/.test(e.message),
    );
    const foreign = await opensslAnswer(dir, ocspRequest(id, NONCE), ca, index, stranger);
    assert.throws(() => checkOcspResponse(foreign, q), OcspError);
  });
});

Deno.test("OCSP: a bad signature, another nonce, another CA's answer and garbage are refused", async () => {
  const ca = await makeCa("CA");
  const other = await makeCa("Other CA");
  const alice = await leaf(ca, "alice");
  await withTempDir(async ({ dir }) => {
    const id = ocspCertId(der(alice.cert), der(ca.cert));
    const q = { certId: id, issuer: der(ca.cert), nonce: NONCE, now: Date.now() };
    const resp = await opensslAnswer(dir, ocspRequest(id, NONCE), ca, [indexLine(alice.cert)]);
    // One second later in producedAt (GeneralizedTime, tag 0x18, 15 bytes): signed bytes changed.
    const tampered = resp.slice();
    const at = tampered.findIndex((b, i) => b === 0x18 && tampered[i + 1] === 0x0f);
    tampered[at + 2 + 13] ^= 0x01;
    assert.throws(() => checkOcspResponse(tampered, q), /signature does not verify/);
    assert.throws(
      () => checkOcspResponse(resp, { ...q, nonce: Uint8Array.of(9, 9, 9, 9) }),
      /nonce is not the one we sent/,
    );
    // The other CA signs an answer about a certificate with alice's serial.
    const otherId = { ...id, ...ocspCertId(der(alice.cert), der(other.cert)) };
    const fromOther = await opensslAnswer(dir, ocspRequest(otherId, NONCE), other, [
      indexLine(alice.cert),
    ]);
    assert.throws(() => checkOcspResponse(fromOther, q), OcspError);
    assert.throws(
      () => checkOcspResponse(new Uint8Array([0x30, 0x03, 0x0a, 0x01, 0x03]), q),
      /tryLater/,
    );
    assert.throws(
      () => checkOcspResponse(new TextEncoder().encode("<html>"), q),
      /not an OCSP response/,
    );
    // Checked later than its nextUpdate: out of date.
    assert.throws(
      () => checkOcspResponse(resp, { ...q, now: Date.now() + 3 * 86_400_000 }),
      /out of date/,
    );
  });
});
