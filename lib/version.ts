/**
 * The release of deno-ipsec this code is (kept equal to `version` in
 * deno.json; a test checks), for `ipsec version` and the daemon's status.
 *
 * @module
 */

/** The deno-ipsec release, semver. */
export const VERSION = "0.1.0";
