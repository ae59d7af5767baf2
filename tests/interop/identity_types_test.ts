/**
 * IKE identity types with strongSwan, each side initiating: FQDN, RFC822
 * (email), KEY_ID, IPv4 and IPv6 address IDs with a PSK, and DER_ASN1_DN,
 * email and IPv4 IDs bound by certificates (subject DN or subjectAltName,
 * issued by strongSwan's `pki`). Both sides must report the same identities.
 *
 * Then a wrong identity in each direction must fail the IKE_AUTH with
 * AUTHENTICATION_FAILED, and our log must say which identity was refused.
 *
 * ```
 *  initiator ──IKE_AUTH {IDi, [IDr], AUTH, ...}──► responder
 *  initiator ◄─IKE_AUTH {IDr, AUTH, ...}────────── responder   (ids match the config)
 *  initiator ◄─IKE_AUTH {N(AUTHENTICATION_FAILED)}─ responder   (IDi not acceptable)
 * ```
 *
 * @module
 */
import type { EngineSpec } from "../helpers/interop_engine.ts";
import { issueSwanSet } from "../helpers/interop_certs.ts";
import { C4, check, E4, gapConf, type GapConn, GapLab, gapSpec } from "./_gap_lab.ts";

interface IdCase {
  name: string;
  /** Identities in strongSwan syntax (ours parses the same). */
  charonId: string;
  engineId: string;
  /** How `swanctl --list-sas` prints them. */
  charonShown: string;
  engineShown: string;
  /** Certificate subjects and SANs, when authenticated with certificates. */
  certs?: { charonDn: string; charonSan?: string; engineDn: string; engineSan?: string };
}

const DN_C = "C=CH, O=gap interop, CN=moon";
const DN_E = "C=CH, O=gap interop, CN=sun";

const CASES: IdCase[] = [
  {
    name: "email",
    charonId: "moon@example.org",
    engineId: "sun@example.org",
    charonShown: "moon@example.org",
    engineShown: "sun@example.org",
  },
  {
    name: "keyid",
    charonId: "@#6d6f6f6e",
    engineId: "@#73756e",
    // swanctl prints a printable KEY_ID as text.
    charonShown: "moon",
    engineShown: "sun",
  },
  { name: "ipv4", charonId: C4, engineId: E4, charonShown: C4, engineShown: E4 },
  {
    name: "ipv6",
    charonId: "fd98::1",
    engineId: "fd98::2",
    charonShown: "fd98::1",
    engineShown: "fd98::2",
  },
  {
    name: "dn",
    charonId: DN_C,
    engineId: DN_E,
    charonShown: DN_C,
    engineShown: DN_E,
    certs: { charonDn: DN_C, engineDn: DN_E },
  },
  {
    name: "certmail",
    charonId: "moon@example.org",
    engineId: "sun@example.org",
    charonShown: "moon@example.org",
    engineShown: "sun@example.org",
    certs: {
      charonDn: DN_C,
      charonSan: "moon@example.org",
      engineDn: DN_E,
      engineSan: "sun@example.org",
    },
  },
  {
    name: "certip",
    charonId: C4,
    engineId: E4,
    charonShown: C4,
    engineShown: E4,
    certs: { charonDn: DN_C, charonSan: C4, engineDn: DN_E, engineSan: E4 },
  },
];

/** CA, moon and sun keys and certificates (ECDSA P-256) from strongSwan's pki. */
function issue(dir: string, c: NonNullable<IdCase["certs"]>): Promise<void> {
  return issueSwanSet(dir, "ecdsa", "C=CH, O=gap interop, CN=Gap CA", [
    { name: "moon", dn: c.charonDn, san: c.charonSan },
    { name: "sun", dn: c.engineDn, san: c.engineSan },
  ]);
}

function setup(
  c: IdCase,
  dir: string,
  override: { charonRemote?: string; engineRemote?: string } = {},
): { conf: string; spec: EngineSpec; keys: string[] } {
  const f = (n: string) => `${dir}/${n}`;
  const conn: GapConn = {
    name: c.name,
    localAddrs: C4,
    remoteAddrs: E4,
    local: c.certs
      ? { auth: "pubkey", id: `"${c.charonId}"`, certs: f("moon.pem") }
      : { id: `"${c.charonId}"` },
    remote: c.certs
      ? { auth: "pubkey", id: `"${override.charonRemote ?? c.engineId}"`, cacerts: f("ca.pem") }
      : { id: `"${override.charonRemote ?? c.engineId}"` },
    children: [{ name: `${c.name}-net`, localTs: "10.1.0.0/16", remoteTs: "10.2.0.0/16" }],
    extra: ["send_cert = always"],
  };
  const conf = gapConf([conn], c.certs ? [] : [[`"${c.charonId}"`, `"${c.engineId}"`]]);
  const spec = gapSpec({
    name: c.name,
    localId: c.engineId,
    remoteId: override.engineRemote ?? c.charonId,
    ...(c.certs
      ? { auth: "pubkey", certFile: f("sun.pem"), keyFile: f("sun.key"), caFile: f("ca.pem") }
      : {}),
  });
  return { conf, spec, keys: c.certs ? [f("moon.key")] : [] };
}

/**
 * Brings case `c` up, `who` initiating, and checks charon shows the expected
 * identities and both sides hold the same single IKE SA.
 */
async function upWithIds(lab: GapLab, c: IdCase, who: "engine" | "charon"): Promise<void> {
  const mark = lab.engine.mark();
  if (who === "engine") await lab.engine.initiate();
  else await lab.charon.initiate(c.name, `${c.name}-net`);
  await lab.engineUp(mark);
  const s = await lab.charonUp();
  check(s.localId === c.charonShown && s.remoteId === c.engineShown, "charon's identities", s);
  const o = (await lab.engine.list()).filter((x) => x.state === "established");
  check(o.length === 1 && o[0].spiI === s.spiI, "one IKE SA, same SPIs", o, s);
}

/** Our first child-up or ike-failed event after `mark`. */
function upOrFailed(lab: GapLab, mark: number): Promise<Record<string, unknown>> {
  return lab.engine.waitFor(
    (o) => o.type === "event" && /^(child-up|ike-failed)$/.test(`${o.event}`),
    mark,
  );
}

Deno.test({
  name: "strongSwan interop: identity types (FQDN, email, KEY_ID, IPv4/6, DN) and wrong IDs",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await GapLab.create("i");
    try {
      for (const c of CASES) {
        const dir = `${lab.dir}/${c.name}`;
        await Deno.mkdir(dir, { recursive: true });
        if (c.certs) await issue(dir, c.certs);
        for (const who of ["engine", "charon"] as const) {
          await t.step(`${c.name}: ${who} initiates`, () =>
            lab.withLogs(async () => {
              const { conf, spec, keys } = setup(c, dir);
              await lab.load(conf, spec, keys);
              await upWithIds(lab, c, who);
              await lab.reset();
            }));
        }
      }
      // We accept any peer identity (remote id %any; we then send no IDr): PSK and certificates.
      for (const c of [CASES[0], CASES[4]]) {
        const dir = `${lab.dir}/${c.name}`;
        for (const who of ["engine", "charon"] as const) {
          await t.step(
            `${c.name}: ${who} initiates, we accept %any`,
            () =>
              lab.withLogs(async () => {
                const { conf, spec, keys } = setup(c, dir, { engineRemote: "%any" });
                await lab.load(conf, spec, keys);
                await upWithIds(lab, c, who);
                await lab.reset();
              }),
          );
        }
      }
      // Wrong identities: PSK (email) and certificates (DN), each direction, each side refusing.
      for (const c of [CASES[0], CASES[4]]) {
        const dir = `${lab.dir}/${c.name}`;
        const bogus = c.certs ? "C=CH, O=gap interop, CN=mallory" : "mallory@example.org";
        for (const who of ["engine", "charon"] as const) {
          await t.step(
            `${c.name}: ${who} initiates, we expect another peer ID`,
            () =>
              lab.withLogs(async () => {
                const { conf, spec, keys } = setup(c, dir, { engineRemote: bogus });
                await lab.load(conf, spec, keys);
                const mark = lab.engine.mark();
                const logMark = await lab.charon.logMark();
                if (who === "engine") await lab.engine.initiate();
                else await lab.charon.initiate(c.name, `${c.name}-net`).catch(() => {});
                const ev = await upOrFailed(lab, mark);
                check(ev.event === "ike-failed", "the IKE SA came up with the wrong peer", ev);
                const log = lab.engine.log(mark);
                // As initiator we send IDr=bogus and charon refuses it; as responder we refuse.
                check(
                  who === "engine"
                    ? /AUTHENTICATION_FAILED/.test(log)
                    : log.includes(`no connection for peer '${c.charonShown}'`) &&
                      log.includes(`expected '${bogus}'`),
                  "our log does not say why",
                  log,
                );
                await lab.charon.waitLog(/AUTH(ENTICATION)?_FAILED/, logMark);
                await lab.charon.waitSas((s) => s.every((x) => x.state !== "ESTABLISHED"), "none");
                await lab.reset();
              }),
          );
          if (who === "engine") {
            // Without IDr charon answers as itself: we must refuse it and tell charon.
            await t.step(
              `${c.name}: we initiate without IDr and refuse charon's ID`,
              () =>
                lab.withLogs(async () => {
                  const { conf, spec, keys } = setup(c, dir, { engineRemote: bogus });
                  await lab.load(conf, { ...spec, sendIdr: false }, keys);
                  const mark = lab.engine.mark();
                  const logMark = await lab.charon.logMark();
                  await lab.engine.initiate();
                  const ev = await upOrFailed(lab, mark);
                  check(ev.event === "ike-failed", "we accepted the wrong responder", ev);
                  check(
                    `${ev.reason}`.includes(`'${c.charonShown}'`) &&
                      `${ev.reason}`.includes(`expected '${bogus}'`),
                    "the reason does not name both identities",
                    ev,
                  );
                  await lab.charon.waitLog(
                    /INFORMATIONAL request \d+ \[ N\(AUTH_FAILED\) \]/,
                    logMark,
                  );
                  await lab.charon.waitSas((s) => s.length === 0, "charon to drop the IKE SA");
                  await lab.reset();
                }),
            );
          }
          await t.step(
            `${c.name}: ${who} initiates, charon expects another peer ID`,
            () =>
              lab.withLogs(async () => {
                const { conf, spec, keys } = setup(c, dir, { charonRemote: bogus });
                await lab.load(conf, spec, keys);
                const mark = lab.engine.mark();
                if (who === "engine") await lab.engine.initiate();
                else await lab.charon.initiate(c.name, `${c.name}-net`).catch(() => {});
                if (who === "engine") {
                  const ev = await upOrFailed(lab, mark);
                  check(ev.event === "ike-failed", "the IKE SA came up", ev);
                  check(/AUTHENTICATION_FAILED/.test(`${ev.reason}`), "reason", ev);
                } else {
                  // charon sends IKE_AUTH with IDr=bogus; we refuse it (our ID differs), or, were
                  // we to answer, charon would refuse us: no side may keep an SA.
                  await lab.engine.waitFor(
                    (x) =>
                      x.type === "event" && /^(ike-up|ike-down|ike-failed)$/.test(`${x.event}`),
                    mark,
                  );
                  await lab.charon.waitSas(
                    (s) => s.every((x) => x.state !== "ESTABLISHED" && x.state !== "CONNECTING"),
                    "charon to give up",
                  );
                  const o = (await lab.engine.list()).filter((x) => x.state === "established");
                  check(o.length === 0, "we kept an IKE SA charon refused", o);
                }
                await lab.reset();
              }),
          );
        }
      }
    } finally {
      await lab.close();
    }
  },
});
