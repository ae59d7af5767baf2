/**
 * IKEv2 IANA numbers (registry "Internet Key Exchange Version 2 (IKEv2)
 * Parameters", https://www.iana.org/assignments/ikev2-parameters), as `const`
 * objects so that `PayloadType.SA` has the literal type `33`, plus reverse name
 * maps for printing. Transform IDs (ENCR_*, PRF_*, ...) live in lib/crypto;
 * only the transform TYPE numbers are here.
 *
 * @example
 * ```ts
 * import { NotifyType, notifyName } from "./constants.ts";
 * notifyName(NotifyType.COOKIE); // "COOKIE"
 * notifyName(60000); // "60000"
 * ```
 *
 * @module
 */

/** Builds a number -> name map from a `const` table. */
function reverse<T extends Record<string, number>>(table: T): ReadonlyMap<number, string> {
  const m = new Map<number, string>();
  for (const [k, v] of Object.entries(table)) if (!m.has(v)) m.set(v, k);
  return m;
}

/** IKE header major version we speak (RFC 7296 section 3.1). */
export const IKE_MAJOR_VERSION = 2;
/** IKE header minor version we send (RFC 7296 section 3.1). */
export const IKE_MINOR_VERSION = 0;
/** Length of the fixed IKE header in bytes. */
export const IKE_HEADER_LENGTH = 28;
/** Length of a generic payload header in bytes. */
export const GENERIC_PAYLOAD_HEADER_LENGTH = 4;
/** Non-ESP marker prepended to IKE messages on UDP port 4500 (RFC 3948). */
export const NON_ESP_MARKER_LENGTH = 4;

/** IKE header flag bits (RFC 7296 section 3.1). */
export const HeaderFlag = {
  /** I(nitiator): set by the original initiator of the IKE SA. */
  INITIATOR: 0x08,
  /** V(ersion): sender can speak a higher major version. */
  VERSION: 0x10,
  /** R(esponse): this message is a response. */
  RESPONSE: 0x20,
} as const;

/** Exchange types (IANA "IKEv2 Exchange Types"). */
export const ExchangeType = {
  IKE_SA_INIT: 34,
  IKE_AUTH: 35,
  CREATE_CHILD_SA: 36,
  INFORMATIONAL: 37,
  /** RFC 5723 */
  IKE_SESSION_RESUME: 38,
  /** RFC 9838 (G-IKEv2) */
  GSA_AUTH: 39,
  /** RFC 9838 (G-IKEv2) */
  GSA_REGISTRATION: 40,
  /** RFC 9838 (G-IKEv2) */
  GSA_REKEY: 41,
  /** RFC 9838 (G-IKEv2) */
  GSA_INBAND_REKEY: 42,
  /** RFC 9242 */
  IKE_INTERMEDIATE: 43,
  /** RFC 9370 */
  IKE_FOLLOWUP_KE: 44,
} as const;
/** Number of an exchange type. */
export type ExchangeTypeNumber = (typeof ExchangeType)[keyof typeof ExchangeType];
const exchangeNames = reverse(ExchangeType);
/** Name of an exchange type, or its number as a string. */
export function exchangeName(v: number): string {
  return exchangeNames.get(v) ?? String(v);
}

/** Payload types (IANA "IKEv2 Payload Types"). */
export const PayloadType = {
  /** "No Next Payload" */
  NONE: 0,
  SA: 33,
  KE: 34,
  IDi: 35,
  IDr: 36,
  CERT: 37,
  CERTREQ: 38,
  AUTH: 39,
  NONCE: 40,
  NOTIFY: 41,
  DELETE: 42,
  VENDOR_ID: 43,
  TSi: 44,
  TSr: 45,
  /** Encrypted and Authenticated */
  SK: 46,
  /** Configuration */
  CP: 47,
  /** Extensible Authentication */
  EAP: 48,
  /** RFC 6467 Generic Secure Password Methods */
  GSPM: 49,
  /** RFC 9838 Group Identification */
  IDg: 50,
  /** RFC 9838 Group Security Association */
  GSA: 51,
  /** RFC 9838 Key Download */
  KD: 52,
  /** RFC 7383 Encrypted and Authenticated Fragment */
  SKF: 53,
  /** RFC 8019 Puzzle Solution */
  PS: 54,
} as const;
/** Number of a payload type. */
export type PayloadTypeNumber = (typeof PayloadType)[keyof typeof PayloadType];
const payloadNames = reverse(PayloadType);
/** strongSwan-style short names used in one-line message summaries. */
const payloadShortNames: ReadonlyMap<number, string> = new Map([
  [0, "NONE"],
  [33, "SA"],
  [34, "KE"],
  [35, "IDi"],
  [36, "IDr"],
  [37, "CERT"],
  [38, "CERTREQ"],
  [39, "AUTH"],
  [40, "No"],
  [41, "N"],
  [42, "D"],
  [43, "V"],
  [44, "TSi"],
  [45, "TSr"],
  [46, "E"],
  [47, "CPRQ"],
  [48, "EAP"],
  [49, "GSPM"],
  [50, "IDg"],
  [51, "GSA"],
  [52, "KD"],
  [53, "EF"],
  [54, "PS"],
]);
/** Name of a payload type ("NONCE", "TSi", ...), or its number as a string. */
export function payloadName(v: number): string {
  return payloadNames.get(v) ?? String(v);
}
/** strongSwan's short name of a payload type ("No", "N", "D", "V", "EF", ...). */
export function payloadShortName(v: number): string {
  return payloadShortNames.get(v) ?? `U_${v}`;
}

/**
 * Notify message types (IANA "IKEv2 Notify Message Error Types" 0..16383 and
 * "IKEv2 Notify Message Status Types" 16384..).
 */
export const NotifyType = {
  // ---- error types (RFC 7296 section 3.10.1 unless noted) ----
  UNSUPPORTED_CRITICAL_PAYLOAD: 1,
  INVALID_IKE_SPI: 4,
  INVALID_MAJOR_VERSION: 5,
  INVALID_SYNTAX: 7,
  INVALID_MESSAGE_ID: 9,
  INVALID_SPI: 11,
  NO_PROPOSAL_CHOSEN: 14,
  INVALID_KE_PAYLOAD: 17,
  AUTHENTICATION_FAILED: 24,
  SINGLE_PAIR_REQUIRED: 34,
  NO_ADDITIONAL_SAS: 35,
  INTERNAL_ADDRESS_FAILURE: 36,
  FAILED_CP_REQUIRED: 37,
  TS_UNACCEPTABLE: 38,
  INVALID_SELECTORS: 39,
  /** RFC 4555 */
  UNACCEPTABLE_ADDRESSES: 40,
  /** RFC 4555 */
  UNEXPECTED_NAT_DETECTED: 41,
  /** RFC 5026 */
  USE_ASSIGNED_HoA: 42,
  TEMPORARY_FAILURE: 43,
  CHILD_SA_NOT_FOUND: 44,
  /** RFC 9838 */
  INVALID_GROUP_ID: 45,
  /** RFC 9838 */
  AUTHORIZATION_FAILED: 46,
  /** RFC 9370 */
  STATE_NOT_FOUND: 47,
  /** RFC 9838 */
  TS_MAX_QUEUE: 48,
  /** RFC 9867 */
  REGISTRATION_FAILED: 49,
  // ---- status types ----
  INITIAL_CONTACT: 16384,
  SET_WINDOW_SIZE: 16385,
  ADDITIONAL_TS_POSSIBLE: 16386,
  IPCOMP_SUPPORTED: 16387,
  NAT_DETECTION_SOURCE_IP: 16388,
  NAT_DETECTION_DESTINATION_IP: 16389,
  COOKIE: 16390,
  USE_TRANSPORT_MODE: 16391,
  HTTP_CERT_LOOKUP_SUPPORTED: 16392,
  REKEY_SA: 16393,
  ESP_TFC_PADDING_NOT_SUPPORTED: 16394,
  NON_FIRST_FRAGMENTS_ALSO: 16395,
  /** RFC 4555 */
  MOBIKE_SUPPORTED: 16396,
  /** RFC 4555 */
  ADDITIONAL_IP4_ADDRESS: 16397,
  /** RFC 4555 */
  ADDITIONAL_IP6_ADDRESS: 16398,
  /** RFC 4555 */
  NO_ADDITIONAL_ADDRESSES: 16399,
  /** RFC 4555 */
  UPDATE_SA_ADDRESSES: 16400,
  /** RFC 4555 */
  COOKIE2: 16401,
  /** RFC 4555 */
  NO_NATS_ALLOWED: 16402,
  /** RFC 4478 */
  AUTH_LIFETIME: 16403,
  /** RFC 4739 */
  MULTIPLE_AUTH_SUPPORTED: 16404,
  /** RFC 4739 */
  ANOTHER_AUTH_FOLLOWS: 16405,
  /** RFC 5685 */
  REDIRECT_SUPPORTED: 16406,
  /** RFC 5685 */
  REDIRECT: 16407,
  /** RFC 5685 */
  REDIRECTED_FROM: 16408,
  /** RFC 5723 */
  TICKET_LT_OPAQUE: 16409,
  /** RFC 5723 */
  TICKET_REQUEST: 16410,
  /** RFC 5723 */
  TICKET_ACK: 16411,
  /** RFC 5723 */
  TICKET_NACK: 16412,
  /** RFC 5723 */
  TICKET_OPAQUE: 16413,
  /** RFC 5739 */
  LINK_ID: 16414,
  /** RFC 5840 */
  USE_WESP_MODE: 16415,
  /** RFC 5857 */
  ROHC_SUPPORTED: 16416,
  /** RFC 5998 */
  EAP_ONLY_AUTHENTICATION: 16417,
  /** RFC 6023 */
  CHILDLESS_IKEV2_SUPPORTED: 16418,
  /** RFC 6290 */
  QUICK_CRASH_DETECTION: 16419,
  /** RFC 6311 */
  IKEV2_MESSAGE_ID_SYNC_SUPPORTED: 16420,
  /** RFC 6311 */
  IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED: 16421,
  /** RFC 6311 */
  IKEV2_MESSAGE_ID_SYNC: 16422,
  /** RFC 6311 */
  IPSEC_REPLAY_COUNTER_SYNC: 16423,
  /** RFC 6467 */
  SECURE_PASSWORD_METHODS: 16424,
  /** RFC 6631 */
  PSK_PERSIST: 16425,
  /** RFC 6631 */
  PSK_CONFIRM: 16426,
  /** RFC 6867 */
  ERX_SUPPORTED: 16427,
  /** 3GPP TS 24.302 */
  IFOM_CAPABILITY: 16428,
  /** RFC 9838 (was draft-yeung-g-ikev2) */
  SENDER_REQUEST_ID: 16429,
  /** RFC 7383 */
  IKEV2_FRAGMENTATION_SUPPORTED: 16430,
  /** RFC 7427 */
  SIGNATURE_HASH_ALGORITHMS: 16431,
  /** RFC 7791 */
  CLONE_IKE_SA_SUPPORTED: 16432,
  /** RFC 7791 */
  CLONE_IKE_SA: 16433,
  /** RFC 8019 */
  PUZZLE: 16434,
  /** RFC 8784 */
  USE_PPK: 16435,
  /** RFC 8784 */
  PPK_IDENTITY: 16436,
  /** RFC 8784 */
  NO_PPK_AUTH: 16437,
  /** RFC 9242 */
  INTERMEDIATE_EXCHANGE_SUPPORTED: 16438,
  /** RFC 8983 */
  IP4_ALLOWED: 16439,
  /** RFC 8983 */
  IP6_ALLOWED: 16440,
  /** RFC 9370 */
  ADDITIONAL_KEY_EXCHANGE: 16441,
  /** RFC 9347 */
  USE_AGGFRAG: 16442,
  /** RFC 9593 */
  SUPPORTED_AUTH_METHODS: 16443,
  /** RFC 9611 */
  SA_RESOURCE_INFO: 16444,
  /** RFC 9867 */
  USE_PPK_INT: 16445,
  /** RFC 9867 */
  PPK_IDENTITY_KEY: 16446,
} as const;
/** Number of a notify type. */
export type NotifyTypeNumber = (typeof NotifyType)[keyof typeof NotifyType];
const notifyNames = reverse(NotifyType);
/** Name of a notify type, or its number as a string. */
export function notifyName(v: number): string {
  return notifyNames.get(v) ?? String(v);
}
/** strongSwan's abbreviations used in one-line summaries, e.g. N(INIT_CONTACT). */
const notifyShortNames: ReadonlyMap<number, string> = new Map([
  [1, "UNSUPP_CRIT"],
  [4, "INVAL_IKE_SPI"],
  [5, "INVAL_MAJOR"],
  [7, "INVAL_SYN"],
  [9, "INVAL_MID"],
  [11, "INVAL_SPI"],
  [14, "NO_PROP"],
  [17, "INVAL_KE"],
  [24, "AUTH_FAILED"],
  [34, "SINGLE_PAIR"],
  [35, "NO_ADD_SAS"],
  [36, "INT_ADDR_FAIL"],
  [37, "FAIL_CP_REQ"],
  [38, "TS_UNACCEPT"],
  [39, "INVAL_SEL"],
  [40, "UNACCEPT_ADDR"],
  [41, "UNEXPECT_NAT"],
  [42, "USE_ASSIGNED_HoA"],
  [43, "TEMP_FAIL"],
  [44, "CHILD_SA_NOT_FOUND"],
  [16384, "INIT_CONTACT"],
  [16385, "SET_WINSIZE"],
  [16386, "ADD_TS_POSS"],
  [16387, "IPCOMP_SUP"],
  [16388, "NATD_S_IP"],
  [16389, "NATD_D_IP"],
  [16390, "COOKIE"],
  [16391, "USE_TRANSP"],
  [16392, "HTTP_CERT_LOOK"],
  [16393, "REKEY_SA"],
  [16394, "ESP_TFC_PAD_N"],
  [16395, "NON_FIRST_FRAG"],
  [16396, "MOBIKE_SUP"],
  [16397, "ADD_4_ADDR"],
  [16398, "ADD_6_ADDR"],
  [16399, "NO_ADD_ADDR"],
  [16400, "UPD_SA_ADDR"],
  [16401, "COOKIE2"],
  [16402, "NO_NATS"],
  [16403, "AUTH_LFT"],
  [16404, "MULT_AUTH"],
  [16405, "AUTH_FOLLOWS"],
  [16406, "REDIR_SUP"],
  [16407, "REDIR"],
  [16408, "REDIR_FROM"],
  [16417, "EAP_ONLY"],
  [16418, "CHDLESS_SUP"],
  [16420, "MSG_ID_SYN_SUP"],
  [16430, "FRAG_SUP"],
  [16431, "HASH_ALG"],
  [16438, "IKE_INT_SUP"],
  [16441, "ADD_KE"],
]);
/** Short notify name as strongSwan prints it, falling back to the full name. */
export function notifyShortName(v: number): string {
  return notifyShortNames.get(v) ?? notifyNames.get(v) ?? `UNKNOWN_${v}`;
}
/** True for error notify types (0..16383), RFC 7296 section 3.10.1. */
export function isErrorNotify(v: number): boolean {
  return v < 16384;
}

/** Security protocol ids (IANA "IKEv2 Security Protocol Identifiers"). */
export const ProtocolId = {
  /** Used in Notify/Delete payloads that are not about an SA. */
  NONE: 0,
  IKE: 1,
  AH: 2,
  ESP: 3,
  /** RFC 4595 */
  FC_ESP_HEADER: 4,
  /** RFC 4595 */
  FC_CT_AUTHENTICATION: 5,
  /** RFC 9838 */
  GIKE_UPDATE: 6,
} as const;
const protocolNames = reverse(ProtocolId);
/** Name of a security protocol id. */
export function protocolName(v: number): string {
  return protocolNames.get(v) ?? String(v);
}

/** Transform types (IANA "Transform Type Values"). */
export const TransformType = {
  /** Encryption algorithm */
  ENCR: 1,
  /** Pseudo-random function */
  PRF: 2,
  /** Integrity algorithm */
  INTEG: 3,
  /** Key exchange method (was "Diffie-Hellman group") */
  KE: 4,
  /** Extended sequence numbers (RFC 9827 renamed it "Sequence Numbers") */
  ESN: 5,
  /** RFC 9370 additional key exchanges */
  ADDKE1: 6,
  ADDKE2: 7,
  ADDKE3: 8,
  ADDKE4: 9,
  ADDKE5: 10,
  ADDKE6: 11,
  ADDKE7: 12,
  /** RFC 9838 */
  KWA: 13,
  /** RFC 9838 */
  GCAUTH: 14,
} as const;
const transformTypeNames = reverse(TransformType);
/** Name of a transform type. */
export function transformTypeName(v: number): string {
  return transformTypeNames.get(v) ?? String(v);
}

/** Transform attribute types (IANA "IKEv2 Transform Attribute Types"). */
export const TransformAttributeType = {
  /** TV format (AF=1), value in bits. */
  KEY_LENGTH: 14,
} as const;

/** Identification types (IANA "IKEv2 Identification Payload ID Types"). */
export const IdType = {
  ID_IPV4_ADDR: 1,
  ID_FQDN: 2,
  ID_RFC822_ADDR: 3,
  ID_IPV6_ADDR: 5,
  ID_DER_ASN1_DN: 9,
  ID_DER_ASN1_GN: 10,
  ID_KEY_ID: 11,
  /** RFC 4595 */
  ID_FC_NAME: 12,
  /** RFC 7619 */
  ID_NULL: 13,
} as const;
const idTypeNames = reverse(IdType);
/** Name of an ID type. */
export function idTypeName(v: number): string {
  return idTypeNames.get(v) ?? String(v);
}

/** Authentication methods (IANA "IKEv2 Authentication Method"). */
export const AuthMethod = {
  RSA_DIGITAL_SIGNATURE: 1,
  SHARED_KEY_MIC: 2,
  DSS_DIGITAL_SIGNATURE: 3,
  /** RFC 4754 */
  ECDSA_SHA256_P256: 9,
  /** RFC 4754 */
  ECDSA_SHA384_P384: 10,
  /** RFC 4754 */
  ECDSA_SHA512_P521: 11,
  /** RFC 6467 */
  GENERIC_SECURE_PASSWORD: 12,
  /** RFC 7619 */
  NULL_AUTHENTICATION: 13,
  /** RFC 7427 */
  DIGITAL_SIGNATURE: 14,
} as const;
const authMethodNames = reverse(AuthMethod);
/** Name of an authentication method. */
export function authMethodName(v: number): string {
  return authMethodNames.get(v) ?? String(v);
}

/** Hash algorithms for SIGNATURE_HASH_ALGORITHMS (IANA "IKEv2 Hash Algorithms", RFC 7427). */
export const HashAlgorithm = {
  SHA1: 1,
  SHA2_256: 2,
  SHA2_384: 3,
  SHA2_512: 4,
  /** RFC 8420 (used with Ed25519/Ed448) */
  IDENTITY: 5,
  /** RFC 9881 */
  SHA3_256: 6,
  SHA3_384: 7,
  SHA3_512: 8,
} as const;
const hashNames = reverse(HashAlgorithm);
/** Name of a signature hash algorithm. */
export function hashAlgorithmName(v: number): string {
  return hashNames.get(v) ?? String(v);
}

/** Certificate encodings (IANA "IKEv2 Certificate Encodings"). */
export const CertEncoding = {
  PKCS7_X509: 1,
  PGP: 2,
  DNS_SIGNED_KEY: 3,
  X509_CERT_SIGNATURE: 4,
  KERBEROS_TOKEN: 6,
  CRL: 7,
  ARL: 8,
  SPKI: 9,
  X509_ATTRIBUTE: 10,
  /** Deprecated by RFC 7296. */
  RAW_RSA_KEY: 11,
  HASH_URL_X509_CERT: 12,
  HASH_URL_X509_BUNDLE: 13,
  /** RFC 4806 */
  OCSP_CONTENT: 14,
  /** RFC 7670 */
  RAW_PUBLIC_KEY: 15,
} as const;
const certEncodingNames = reverse(CertEncoding);
/** Name of a certificate encoding. */
export function certEncodingName(v: number): string {
  return certEncodingNames.get(v) ?? String(v);
}

/** Traffic selector types (IANA "IKEv2 Traffic Selector Types"). */
export const TsType = {
  TS_IPV4_ADDR_RANGE: 7,
  TS_IPV6_ADDR_RANGE: 8,
  /** RFC 4595 */
  TS_FC_ADDR_RANGE: 9,
  /** RFC 9478 */
  TS_SECLABEL: 10,
} as const;
const tsTypeNames = reverse(TsType);
/** Name of a traffic selector type. */
export function tsTypeName(v: number): string {
  return tsTypeNames.get(v) ?? String(v);
}

/** Configuration payload types (IANA "IKEv2 Configuration Payload CFG Types"). */
export const CfgType = {
  CFG_REQUEST: 1,
  CFG_REPLY: 2,
  CFG_SET: 3,
  CFG_ACK: 4,
} as const;
const cfgTypeNames = reverse(CfgType);
/** Name of a CP CFG type. */
export function cfgTypeName(v: number): string {
  return cfgTypeNames.get(v) ?? String(v);
}

/** Configuration attribute types (IANA "IKEv2 Configuration Payload Attribute Types"). */
export const CfgAttributeType = {
  INTERNAL_IP4_ADDRESS: 1,
  INTERNAL_IP4_NETMASK: 2,
  INTERNAL_IP4_DNS: 3,
  INTERNAL_IP4_NBNS: 4,
  INTERNAL_IP4_DHCP: 6,
  APPLICATION_VERSION: 7,
  INTERNAL_IP6_ADDRESS: 8,
  INTERNAL_IP6_DNS: 10,
  INTERNAL_IP6_DHCP: 12,
  INTERNAL_IP4_SUBNET: 13,
  SUPPORTED_ATTRIBUTES: 14,
  INTERNAL_IP6_SUBNET: 15,
  /** RFC 5026 */
  MIP6_HOME_PREFIX: 16,
  /** RFC 5739 */
  INTERNAL_IP6_LINK: 17,
  /** RFC 5739 */
  INTERNAL_IP6_PREFIX: 18,
  /** 3GPP TS 24.302 */
  HOME_AGENT_ADDRESS: 19,
  /** RFC 7651 */
  P_CSCF_IP4_ADDRESS: 20,
  /** RFC 7651 */
  P_CSCF_IP6_ADDRESS: 21,
  /** 3GPP TS 24.302 */
  FTT_KAT: 22,
  /** 3GPP TS 24.302 */
  EXTERNAL_SOURCE_IP4_NAT_INFO: 23,
  /** 3GPP TS 24.302 */
  TIMEOUT_PERIOD_FOR_LIVENESS_CHECK: 24,
  /** RFC 8598 */
  INTERNAL_DNS_DOMAIN: 25,
  /** RFC 8598 */
  INTERNAL_DNSSEC_TA: 26,
  /** RFC 9464 */
  ENCDNS_IP4: 27,
  /** RFC 9464 */
  ENCDNS_IP6: 28,
  /** RFC 9464 */
  ENCDNS_DIGEST_INFO: 29,
} as const;
const cfgAttributeNames = reverse(CfgAttributeType);
/** Name of a CP attribute type. */
export function cfgAttributeName(v: number): string {
  return cfgAttributeNames.get(v) ?? String(v);
}

/** IP protocol numbers commonly seen in traffic selectors (0 = any). */
export const IpProtocol = {
  ANY: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ICMPV6: 58,
} as const;
