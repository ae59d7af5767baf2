/**
 * Shared pieces of the reauthentication interop tests
 * (tests/interop/reauth_test.ts, reauth_two_children_test.ts): charon's
 * connection with `reauth_time`, and the wait for the new IKE SA.
 *
 * @module
 */
import type { SwanIkeSa } from "../helpers/strongswan.ts";
import { C4, E4, gapConf, type GapLab, type SwanChild } from "./_gap_lab.ts";

/**
 * charon's connection `name` (PSK, moon/sun.example.org) with no rekeying and
 * `reauth_time = reauth` ("0": charon never reauthenticates).
 */
export function reauthConf(name: string, reauth: string, children: SwanChild[]): string {
  return gapConf([{
    name,
    localAddrs: C4,
    remoteAddrs: E4,
    local: { id: "moon.example.org" },
    remote: { id: "sun.example.org" },
    children,
    extra: ["rekey_time = 0", `reauth_time = ${reauth}`, "over_time = 1s", "rand_time = 0"],
  }], [["moon.example.org", "sun.example.org"]]);
}

/**
 * Waits for our old IKE SA to go (an ike-down after `mark`), then for charon
 * to hold exactly one ESTABLISHED IKE SA, with SPIs other than `before`'s and
 * `children` INSTALLED children; returns it.
 */
export async function waitReauthenticated(
  lab: GapLab,
  mark: number,
  before: SwanIkeSa,
  children: number,
): Promise<SwanIkeSa> {
  await lab.engine.waitFor((o) => o.type === "event" && o.event === "ike-down", mark, 20_000);
  return (await lab.charon.waitSas(
    (s) =>
      s.length === 1 && s[0].state === "ESTABLISHED" && s[0].spiI !== before.spiI &&
      s[0].children.filter((c) => c.state === "INSTALLED").length === children,
    `one new ESTABLISHED IKE SA with ${children} INSTALLED children after the reauthentication`,
  ))[0];
}
