/**
 * deno-ipsec: a userspace IPsec (IKEv2, ESP, AH) implementation for Deno.
 * This module re-exports the public library API only: the wire codec, the
 * sans-I/O IKEv2 engine, ESP/AH processing, the RFC 4301 databases, the
 * configuration loader and the PKI helpers.
 *
 * @example
 * ```ts
 * import { IkeEngine, loadConfig, toEngineConfig } from "./mod.ts";
 *
 * const config = await loadConfig("examples/site_to_site.yaml");
 * const engine = new IkeEngine(toEngineConfig(config));
 * const effects = engine.initiate("site-a", Date.now()); // send, installSa, setTimer, ...
 * ```
 *
 * @module
 */
// Wire codec
export { ParseError } from "./lib/wire/parse_error.ts";
export { Reader } from "./lib/wire/reader.ts";
export { Writer } from "./lib/wire/writer.ts";
export {
  decodeMessage,
  decryptMessage,
  describeMessage,
  encodeMessage,
  encryptMessage,
  ikeSaProtection,
  IntegrityError,
} from "./lib/ikev2/message.ts";
export type { IkeMessage } from "./lib/ikev2/message.ts";
export { fragmentMessage, FragmentReassembler } from "./lib/ikev2/fragment.ts";

// IKEv2 engine
export { IkeEngine } from "./lib/ikev2/engine.ts";
export type { EngineOptions, IkeSaInfo } from "./lib/ikev2/engine.ts";
export type { CrlFetchResult, Effect, Endpoint } from "./lib/ikev2/effects.ts";
export type {
  ChildConfig,
  EapSecret,
  EngineConfig,
  PeerConfig,
  PpkSecret,
  RadiusConfig,
  SharedSecret,
} from "./lib/ikev2/peer_config.ts";
export type { RadiusServer } from "./lib/eap/radius_proxy.ts";

// EAP methods (RFC 3748; EAP-MD5, EAP-MSCHAPv2) as used in IKE_AUTH
export { EapPeer } from "./lib/eap/eap_peer.ts";
export { EapServer } from "./lib/eap/eap_server.ts";
export type { EapMethodName } from "./lib/eap/eap_message.ts";
export type { EapTlsOptions } from "./lib/eap/eap_tls.ts";

// Crypto
export {
  formatProposal,
  parseProposal,
  parseProposals,
  ProposalError,
} from "./lib/crypto/proposal.ts";
export type { Proposal } from "./lib/crypto/proposal.ts";
export { selectCryptoBackend } from "./ffi/crypto_backend.ts";

// ESP / AH and the SAD
export { EspSa } from "./lib/esp/esp.ts";
export { AhSa } from "./lib/esp/ah.ts";
export { ReplayWindow } from "./lib/esp/replay_window.ts";
export { Sad, SadError } from "./lib/db/sad.ts";

// SPD, PAD, identities
export { firstMatch, Spd, SpdError } from "./lib/db/spd.ts";
export type { SpdDecision, SpdEntry } from "./lib/db/spd.ts";
export { Pad, PadError } from "./lib/db/pad.ts";
export { formatIdentity, parseIdentity, parseIdentityPattern } from "./lib/db/identity.ts";
export type { Identity, IdentityPattern } from "./lib/db/identity.ts";

// Configuration
export { loadConfig, parseConfig } from "./lib/config/parse.ts";
export { ConfigError } from "./lib/config/config.ts";
export type { Config } from "./lib/config/config.ts";
export { buildDatabases } from "./lib/config/build.ts";
export { toEngineConfig, toPeerConfig } from "./lib/config/to_peer_config.ts";

// PKI
export {
  certMatchesId,
  ChainError,
  validateChain,
  validatePeerCertificate,
} from "./lib/pki/validate.ts";
export {
  createCertificateRequest,
  issueCertificate,
  parseCertificate,
  parseCertificates,
  selfSignCertificate,
} from "./lib/pki/certificate.ts";
export { exportPrivateKeyPem, generateKeyPair, importPrivateKey } from "./lib/pki/keys.ts";
export { PkiError } from "./lib/pki/pki_error.ts";
export { createPkcs12 } from "./lib/pki/pkcs12.ts";
export { createCrl, parseCrls } from "./lib/pki/crl.ts";
export type { Crl } from "./lib/pki/crl.ts";
export { checkOcspResponse, ocspCertId, OcspError, ocspRequest } from "./lib/pki/ocsp.ts";
export type { OcspStatus } from "./lib/pki/ocsp.ts";
