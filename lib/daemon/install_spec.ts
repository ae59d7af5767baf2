/**
 * Turns the engine's `installSa` effect ({@link SaInstall}: IANA transform
 * ids and raw KEYMAT) into the data plane's {@link SaSpec} (algorithm names,
 * key and salt split, ICV length, selectors from the traffic selectors).
 *
 * @module
 */
import { EncrId, encrInfo, IntegId, integInfo } from "../crypto/transforms.ts";
import { aeadAlgorithm, blockCipherAlgorithm } from "../crypto/primitives.ts";
import { formatIp, ipFromBytes, ipToBytes, parseIp } from "../db/address.ts";
import { tsListsToSelectors } from "../db/narrow.ts";
import type { SaInstall } from "../ikev2/effects.ts";
import type { EncryptionSpec, IntegritySpec, SaSpec } from "../dataplane/sa_spec.ts";

/** The SA uses something the data plane cannot run; the message names it. */
export class UnsupportedSaError extends Error {
  override readonly name = "UnsupportedSaError";
}

function address(text: string): Uint8Array {
  const ip = parseIp(text);
  if (!ip) throw new UnsupportedSaError(`SA endpoint '${text}' is not an IP address`);
  return ipToBytes(ip);
}

function encryption(sa: SaInstall): EncryptionSpec | undefined {
  if (!sa.encr) return undefined;
  const info = encrInfo(sa.encr.id);
  if (!info) throw new UnsupportedSaError(`unknown encryption transform ${sa.encr.id}`);
  const key = sa.encr.key;
  const keyLen = key.length - info.saltLength;
  if (keyLen < 0) {
    throw new UnsupportedSaError(`${info.name}: key of ${key.length} bytes is too short`);
  }
  switch (info.kind) {
    case "null":
      return { alg: "null" };
    case "cbc": {
      const alg = blockCipherAlgorithm(info.id);
      if (alg !== "aes-cbc" && alg !== "3des-cbc" && alg !== "camellia-cbc") break;
      return { alg, key };
    }
    case "ctr": {
      const alg = blockCipherAlgorithm(info.id);
      if (alg !== "aes-ctr" && alg !== "camellia-ctr") break;
      // RFC 3686 section 5.1 (RFC 5528 likewise): the last 4 bytes of the KEYMAT are the nonce.
      return { alg, key: key.subarray(0, keyLen), nonce: key.subarray(keyLen) };
    }
    case "aead": {
      if (info.id === EncrId.NULL_AUTH_AES_GMAC) {
        // RFC 4543 section 5.1: the last 4 bytes of the KEYMAT are the salt.
        return { alg: "aes-gmac", key: key.subarray(0, keyLen), salt: key.subarray(keyLen) };
      }
      const alg = aeadAlgorithm(info.id);
      if (!alg) break;
      return {
        alg,
        key: key.subarray(0, keyLen),
        salt: key.subarray(keyLen),
        icvLength: info.icvLength,
      };
    }
    default:
      break;
  }
  throw new UnsupportedSaError(`${info.name} is not supported by the data plane`);
}

function integrity(sa: SaInstall): IntegritySpec | undefined {
  if (!sa.integ) return undefined;
  const info = integInfo(sa.integ.id);
  if (!info) throw new UnsupportedSaError(`unknown integrity transform ${sa.integ.id}`);
  // `sha256_96`: the ICV of the draft before RFC 4868 (12 bytes, not 16).
  const icvLength = sa.sha256Icv96 && sa.integ.id === IntegId.HMAC_SHA2_256_128
    ? 12
    : info.icvLength;
  return { alg: info.mac, key: sa.integ.key, icvLength };
}

function limit(v: bigint): number | undefined {
  return v > 0n ? Number(v) : undefined;
}

/**
 * Builds the data plane's SA from an engine install. `local`/`remote` are our
 * and the peer's outer addresses: for an outbound SA `src`/`dst`, for an
 * inbound one the reverse. `reqid` is the child SA id (both directions share
 * it); `label` is `connection/child`.
 *
 * @example
 * ```ts
 * await dataplane.installSa(saSpecFromInstall(effect.sa));
 * ```
 */
/**
 * What a child's configuration (not the negotiation) says about its SAs'
 * packets: `replay_window`, `copy_df`, `copy_dscp`, `copy_ecn` and `tfc_padding`.
 */
export interface ChildSaSettings {
  /** Anti-replay window in packets; 0 turns the check off. */
  readonly replayWindow: number;
  /** Tunnel mode: copy the inner DF bit to the outer header (else clear it). */
  readonly copyDf: boolean;
  /** Tunnel mode: copy the inner DSCP to the outer header (else 0). */
  readonly copyDscp: boolean;
  /** Tunnel mode: copy ECN outward and CE marks inward (RFC 6040; else neither). */
  readonly copyEcn: boolean;
  /** Tunnel-mode ESP: pad inner packets to this size (RFC 4303 section 2.7); 0 = off. */
  readonly tfcPadTo: number;
}

/**
 * The data plane's spec of an SA the engine negotiated, with its child's
 * `settings` (absent: the data plane's defaults, a 1024-packet window, DF
 * and DSCP copied, no TFC padding). TFC padding is used only on outbound
 * tunnel-mode ESP SAs whose peer did not send ESP_TFC_PADDING_NOT_SUPPORTED.
 */
export function saSpecFromInstall(sa: SaInstall, settings?: ChildSaSettings): SaSpec {
  const out = sa.direction === "out";
  const tunnel = sa.mode === "tunnel";
  const tfc = settings && out && tunnel && sa.protocol === "esp" && sa.tfcPadding &&
    settings.tfcPadTo > 0;
  const encr = encryption(sa);
  if (sa.protocol === "esp" && !encr) throw new UnsupportedSaError("ESP SA without encryption");
  const l = sa.lifetimes;
  return {
    direction: sa.direction,
    protocol: sa.protocol,
    spi: sa.spi,
    mode: sa.mode,
    local: address(out ? sa.src : sa.dst),
    remote: address(out ? sa.dst : sa.src),
    ...(sa.encap
      ? {
        encap: out
          ? { localPort: sa.encap.srcPort, remotePort: sa.encap.dstPort }
          : { localPort: sa.encap.dstPort, remotePort: sa.encap.srcPort },
      }
      : {}),
    ...(encr ? { encryption: encr } : {}),
    ...(sa.integ ? { integrity: integrity(sa) } : {}),
    esn: sa.esn,
    selectors: tsListsToSelectors(sa.localTs, sa.remoteTs),
    limits: {
      softBytes: limit(l.softBytes),
      hardBytes: limit(l.hardBytes),
      softPackets: limit(l.softPackets),
      hardPackets: limit(l.hardPackets),
    },
    ...(sa.ipcompCpi ? { ipcomp: { cpi: sa.ipcompCpi } } : {}),
    reqid: sa.childSaId,
    label: `${sa.connectionName}/${sa.childName}`,
    ...(settings
      ? {
        replayWindow: settings.replayWindow,
        ...(tunnel
          ? {
            df: settings.copyDf ? "copy" as const : "clear" as const,
            dscp: settings.copyDscp ? "copy" as const : 0,
            ecn: settings.copyEcn,
          }
          : {}),
        ...(tfc ? { tfcPadTo: settings.tfcPadTo } : {}),
      }
      : {}),
  };
}

/** The textual form of 4 or 16 network-order address bytes (for data plane events). */
export function addressText(b: Uint8Array): string {
  return formatIp(ipFromBytes(b));
}
