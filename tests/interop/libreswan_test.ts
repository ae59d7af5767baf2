/**
 * IKE interop with Libreswan's pluto (4.10), a second independent IKEv2
 * implementation next to strongSwan: our daemon and pluto bring up IKE SAs
 * both ways with PSK, ECDSA and RSA certificates (issued by `ipsec pki`,
 * imported into pluto's NSS database), default and chosen proposals. Each
 * side must log the other as authenticated. Our kernel has no ESP for XFRM,
 * so pluto cannot install the child SA it negotiated and drops the IKE SA
 * afterwards; what this checks is IKE_SA_INIT and IKE_AUTH (KE groups incl.
 * INVALID_KE_PAYLOAD, AUTH by PSK and RFC 7427 signatures, certificates, ID
 * types as FQDN and DN, RFC 7383 fragments, COOKIE under pluto's DDoS mode)
 * and pluto's choice from our child SA proposal. Skipped when pluto is not
 * installed (`.ci/install_deps.sh --with-interop` unpacks it). Debugging:
 * `LIBRESWAN_CASES=rsa1,dn2` runs only those, `PLUTO_DEBUG=all` makes
 * pluto verbose and `PLUTO_SHOW=1` prints both logs of each case.
 *
 * ```
 *  tls-l: pluto 10.97.0.1 (moon.example.org) ── our daemon 10.97.0.2 (sun.example.org) :tls-d
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { issueCerts } from "../helpers/interop_certs.ts";
import { haveLibreswan, Pluto, type PlutoCerts } from "../helpers/libreswan.ts";
import { NetnsLab, run } from "../helpers/netns.ts";
import { IPSEC, startDaemonIn } from "../helpers/netns_daemons.ts";

const PSK = "libreswan interop psk 0123456789abcdef";
const PPK = "libreswan interop post-quantum preshared key 0123456789";

interface Case {
  name: string;
  /** "psk", or certificates of this key type. */
  auth: "psk" | "ecdsa" | "rsa";
  initiator: "pluto" | "daemon";
  /** pluto's ike= and esp= lines (default: its defaults). */
  plutoIke?: string;
  plutoEsp?: string;
  /** Our proposals (default: ours). */
  ike?: string;
  esp?: string;
  /** What pluto must log having chosen or used (besides "authenticated peer"). */
  expect?: RegExp[];
  /** What our daemon must log. */
  expectOurs?: RegExp[];
  /** Identities as DNs (pluto: leftid=%fromcert) instead of FQDNs. */
  dn?: boolean;
  /** Our fragment_size (RFC 7383 fragments of IKE_AUTH). */
  fragmentSize?: number;
  /** pluto demands a COOKIE from every initiator (`whack --ddos-busy`). */
  busy?: boolean;
  /** Both sides insist on a post-quantum preshared key (RFC 8784; pluto's `ppk=insist`). */
  ppk?: boolean;
  /** IPv6 outer addresses and selectors, identities the IPv6 addresses (PSK only). */
  v6?: boolean;
}

const DN = (cn: string) => `C=CH, O=deno-ipsec interop, CN=${cn}`;

/** Addresses, selectors and PSK identities of a case: pluto is "l", we are "d". */
function net(c: Case) {
  return c.v6
    ? {
      l: "fd97::1",
      d: "fd97::2",
      lNet: "fd01::/64",
      dNet: "fd02::/64",
      lId: "fd97::1",
      dId: "fd97::2",
    }
    : {
      l: "10.97.0.1",
      d: "10.97.0.2",
      lNet: "10.1.0.0/24",
      dNet: "10.2.0.0/24",
      lId: "moon.example.org",
      dId: "sun.example.org",
    };
}

function plutoConf(c: Case): string {
  const n = net(c);
  const auth = c.auth === "psk"
    ? "    authby=secret\n"
    : `    authby=${
      c.auth === "rsa" ? "rsasig" : "ecdsa"
    }\n    leftcert=moon\n    leftsendcert=always\n`;
  return `config setup
    plutodebug=${Deno.env.get("PLUTO_DEBUG") ?? "none"}
conn ${c.name}${c.ppk ? "\n    ppk=insist" : ""}
    left=${n.l}
    leftid=${c.dn ? "%fromcert" : c.v6 ? n.lId : `@${n.lId}`}
    leftsubnet=${n.lNet}
    right=${n.d}
    rightid=${c.dn ? `"${DN("sun.example.org")}"` : c.v6 ? n.dId : `@${n.dId}`}
    rightsubnet=${n.dNet}
    leftupdown=/bin/true
    ikev2=insist
    auto=add
${auth}${c.plutoIke ? `    ike=${c.plutoIke}\n` : ""}${
    c.plutoEsp ? `    esp=${c.plutoEsp}\n` : ""
  }`;
}

function daemonYaml(c: Case): string {
  const n = net(c);
  const auth = c.auth === "psk"
    ? `    local: { auth: psk, id: "${n.dId}" }
    remote: { auth: psk, id: "${n.lId}" }`
    : `    local: { auth: pubkey, id: "${
      c.dn ? DN("sun.example.org") : "sun.example.org"
    }", certs: [sun.pem], key: sun.key }
    remote: { auth: pubkey, id: "${
      c.dn ? DN("moon.example.org") : "moon.example.org"
    }", cacerts: [ca.pem] }
    send_cert: always`;
  return `connections:
  ${c.name}:
    local_addrs: ["${n.d}"]
    remote_addrs: ["${n.l}"]
${c.fragmentSize ? `    fragment_size: ${c.fragmentSize}\n` : ""}${
    c.ppk ? "    ppk_id: ppk-1\n    ppk_required: yes\n" : ""
  }${c.ike ? `    proposals: [${c.ike}]\n` : ""}${auth}
    children:
      net:
        local_ts: ["${n.dNet}"]
        remote_ts: ["${n.lNet}"]
${c.esp ? `        esp_proposals: [${c.esp}]\n` : ""}secrets:
  ike:
    id: ["${n.dId}", "${n.lId}"]
    secret: "${PSK}"
${c.ppk ? `  ppk-1:\n    id: ppk-1\n    secret: "${PPK}"\n` : ""}`;
}

const ALL: Case[] = [
  { name: "psk1", auth: "psk", initiator: "pluto" },
  // Our first KE (X25519) is not pluto's first choice: INVALID_KE_PAYLOAD, then MODP2048.
  { name: "psk2", auth: "psk", initiator: "daemon", expect: [/INVALID_KE_PAYLOAD/] },
  {
    name: "psk3",
    auth: "psk",
    initiator: "pluto",
    plutoIke: "aes128-sha2_256-dh19",
    plutoEsp: "aes128-sha2_256",
    expect: [/IKE=AES_CBC_128-HMAC_SHA2_256-HMAC_SHA2_256_128-DH19|cipher=AES_CBC_128/],
  },
  {
    name: "psk4",
    auth: "psk",
    initiator: "daemon",
    ike: "chacha20poly1305-prfsha256-x25519",
    esp: "chacha20poly1305",
    plutoIke: "chacha20_poly1305-sha2_256-dh31",
    plutoEsp: "chacha20_poly1305",
    expect: [/CHACHA20_POLY1305/, /DH31|CURVE25519/],
  },
  { name: "ec1", auth: "ecdsa", initiator: "pluto" },
  {
    name: "ec2",
    auth: "ecdsa",
    initiator: "daemon",
    ike: "aes256gcm16-prfsha384-ecp384",
    plutoIke: "aes_gcm256-sha2_384-dh20",
    expect: [/HMAC_SHA2_384/, /DH20|ECP_384/],
  },
  { name: "rsa1", auth: "rsa", initiator: "pluto" },
  { name: "rsa2", auth: "rsa", initiator: "daemon" },
  // IKE_AUTH with an RSA certificate, cut into RFC 7383 fragments pluto reassembles.
  {
    name: "frag",
    auth: "rsa",
    initiator: "daemon",
    fragmentSize: 576,
    expectOurs: [/split \d+-byte message into [2-9] fragments/],
  },
  // Distinguished names as identities (ID_DER_ASN1_DN), both ways.
  { name: "dn1", auth: "ecdsa", initiator: "pluto", dn: true },
  { name: "dn2", auth: "ecdsa", initiator: "daemon", dn: true },
  // A required post-quantum preshared key (RFC 8784), both ways.
  { name: "ppk1", auth: "psk", initiator: "pluto", ppk: true, expect: [/PPK AUTH calculated/] },
  {
    name: "ppk2",
    auth: "ecdsa",
    initiator: "daemon",
    ppk: true,
    expect: [/PPK AUTH calculated/],
    expectOurs: [/N\(PPK_IDENTITY\)/],
  },
  // IPv6 outer addresses and IPv6 address identities (ID_IPV6_ADDR), both ways.
  { name: "v6a", auth: "psk", initiator: "pluto", v6: true },
  { name: "v6b", auth: "psk", initiator: "daemon", v6: true },
  // pluto under DDoS protection answers IKE_SA_INIT with a COOKIE first.
  {
    name: "cookie",
    auth: "psk",
    initiator: "daemon",
    busy: true,
    expectOurs: [/N\(COOKIE\)/],
  },
];
/** `LIBRESWAN_CASES=rsa1,ec2` runs only those (debugging). */
const only = Deno.env.get("LIBRESWAN_CASES")?.split(",");
const CASES = only ? ALL.filter((c) => only.includes(c.name)) : ALL;

Deno.test({
  name: "Libreswan interop (IKE): PSK, ECDSA and RSA certificates, both directions",
  ignore: !haveLibreswan(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await NetnsLab.create("tls-");
    const dir = await Deno.makeTempDir({ prefix: "tls-" });
    try {
      const l = await lab.addNs("l");
      const d = await lab.addNs("d");
      await lab.veth(l, "vl", "10.97.0.1/24", d, "vd", "10.97.0.2/24");
      for (const [ns, dev, a] of [[l, "vl", "fd97::1/64"], [d, "vd", "fd97::2/64"]]) {
        const r = await lab.runIn(ns, ["ip", "-6", "addr", "add", a, "dev", dev, "nodad"]);
        assert.equal(r.code, 0, r.stderr);
      }
      const pkis = new Map<string, Awaited<ReturnType<typeof issueCerts>>>();
      for (const type of ["ecdsa", "rsa"] as const) {
        pkis.set(type, await issueCerts(`${dir}/pki-${type}`, "ipsec", type));
      }
      for (const c of CASES) {
        await t.step(`${c.name}: ${c.auth}, ${c.initiator} initiates`, async () => {
          const cdir = `${dir}/${c.name}`;
          await Deno.mkdir(`${cdir}/d`, { recursive: true });
          const pki = c.auth === "psk" ? undefined : pkis.get(c.auth)!;
          const certs: PlutoCerts | undefined = pki
            ? { ca: pki.ca, cert: pki.charonCert, key: pki.charonKey, nick: "moon" }
            : undefined;
          if (pki) {
            await Deno.copyFile(pki.engineCert, `${cdir}/d/sun.pem`);
            await Deno.copyFile(pki.engineKey, `${cdir}/d/sun.key`);
            await Deno.copyFile(pki.ca, `${cdir}/d/ca.pem`);
          }
          const n = net(c);
          const ids = c.v6 ? `${n.lId} ${n.dId}` : `@${n.lId} @${n.dId}`;
          // With certificates NSS finds the key of leftcert: no secret for it.
          const secrets = (c.auth === "psk" ? `${ids} : PSK "${PSK}"\n` : "") +
            (c.ppk ? `${ids} : PPKS "ppk-1" "${PPK}"\n` : "");
          const pluto = await Pluto.start(lab, l, `${cdir}/l`, plutoConf(c), secrets, certs);
          const daemon = await startDaemonIn(lab, d, cdir, "d", daemonYaml(c));
          const why = async () =>
            `\n--- pluto ---\n${await pluto.log()}\n--- daemon ---\n${daemon.log()}`;
          try {
            if (c.busy) {
              const r = await pluto.whack(["--ddos-busy"]);
              assert.equal(r.code, 0, `whack --ddos-busy: ${r.stdout}${r.stderr}`);
            }
            if (c.initiator === "pluto") {
              await pluto.whack(["--name", c.name, "--initiate", "--asynchronous"]);
            } else {
              // pluto negotiates the child SA, then fails to install it (no kernel ESP).
              await daemon.ipsec(["up", c.name, "--timeout", "10"]);
            }
            const role = c.initiator === "pluto" ? "initiator" : "responder";
            const how = c.auth === "psk"
              ? "authby=secret"
              : c.auth === "rsa"
              ? "(authby=rsasig|RSASSA-PSS|RSA)"
              : "(authby=ecdsa|ECDSA)";
            await pluto.waitLog(
              new RegExp(`${role} established IKE SA; authenticated peer .*${how}`),
            ).catch(async (e) => {
              throw new Error(`${(e as Error).message}${await why()}`);
            });
            const plog = await pluto.log();
            if (Deno.env.get("PLUTO_SHOW")) console.log(plog, daemon.log());
            for (const re of c.expect ?? []) assert.match(plog, re, await why());
            for (const re of c.expectOurs ?? []) assert.match(daemon.log(), re, await why());
            const [me, peer] = c.dn
              ? [DN("sun.example.org"), DN("moon.example.org")]
              : [n.dId, n.lId];
            assert.ok(
              daemon.log().includes(`IKE_SA established between ${n.d}[${me}]...${n.l}[${peer}]`),
              await why(),
            );
            // pluto chose from our child SA proposal before its kernel refused the SA.
            assert.match(plog, /ESP=|esp\./, await why());
          } finally {
            await pluto.stop();
            await run([...IPSEC, "stop", "--socket", daemon.socket]).catch(() => {});
          }
        });
      }
    } finally {
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
