/**
 * The Deno permissions the daemon runs with: FFI for TUN/netlink/raw sockets
 * (and libcrypto), files for config and the control socket, network for IKE,
 * env/sys for settings, run for nothing but re-executing itself detached.
 * Never `--allow-all`.
 *
 * @module
 */

/** `deno run` flags for the daemon and the CLI. */
export const DAEMON_PERMISSIONS: readonly string[] = [
  "--allow-ffi",
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-sys",
  "--allow-run",
];
