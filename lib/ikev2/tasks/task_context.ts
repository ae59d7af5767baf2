/**
 * What the engine lends its tasks: randomness (injected so tests are
 * deterministic), the engine-wide settings and a log sink. Tasks never see
 * sockets or clocks; `now` is passed in where a task needs time.
 *
 * @example
 * ```ts
 * const ctx: TaskContext = {
 *   random: (n) => crypto.getRandomValues(new Uint8Array(n)),
 *   config: { connections: [] },
 *   log: (level, line) => console.log(level, line),
 * };
 * ```
 *
 * @module
 */
import type { LogLevel } from "../effects.ts";
import type { EngineConfig } from "../peer_config.ts";
import type { Crl } from "../../pki/crl.ts";
import type { OcspStatus } from "../../pki/ocsp.ts";

/** Services the engine provides to tasks. */
export interface TaskContext {
  /** `n` random bytes (SPIs, nonces, KE private keys). */
  random(n: number): Uint8Array;
  /** Engine-wide settings (connections, secrets). */
  readonly config: EngineConfig;
  /** A log line. */
  log(level: LogLevel, line: string): void;
  /** CRLs fetched from distribution points, checked beside the configured ones. */
  fetchedCrls(): readonly Crl[];
  /** Verified OCSP answers fetched for peer certificates. */
  fetchedOcsp(): readonly OcspStatus[];
}

/** A task's reason to fail: what goes into logs and events (never onto the wire). */
export class TaskError extends Error {
  override readonly name = "TaskError";
  /** The error notify to send (in a response) or that was received, if any. */
  readonly notify?: number;
  constructor(message: string, notify?: number) {
    super(message);
    this.notify = notify;
  }
}
