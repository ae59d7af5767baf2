/**
 * FreeRADIUS 3 (Debian's `freeradius`, installed by
 * `.ci/install_deps.sh --with-interop`) as an independent RADIUS/EAP server
 * for tests: a private copy of its configuration with EAP-MD5 and
 * EAP-MSCHAPv2 (and EAP-TLS, EAP-TTLS and PEAP, tunneling EAP-MSCHAPv2
 * through the same virtual server, with the certificate, key and CA given), one
 * client secret, users with cleartext passwords; run in the foreground on
 * one address and port, in a network namespace when given.
 *
 * @module
 */

/** What {@linkcode startFreeRadius} sets up. */
export interface FreeRadiusOptions {
  /** Address and port it listens on (accounting on the next port). */
  readonly address: string;
  readonly port: number;
  /** The shared secret, and the network clients may come from (CIDR). */
  readonly secret: string;
  readonly clients: string;
  /** User name to cleartext password (and reply items, e.g. "Framed-IP-Address = 10.3.0.7"). */
  readonly users: Readonly<Record<string, string | { password: string; reply: string[] }>>;
  /** `md5`, `mschapv2`, `tls` or `ttls`: what it proposes first (default mschapv2). */
  readonly defaultEapType?: "md5" | "mschapv2" | "tls" | "ttls" | "peap";
  /** EAP-TLS (TLS 1.2): its server certificate and key, and the CA of client certificates (PEM paths). */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca: string };
  /** Run in this network namespace. */
  readonly netns?: string;
}

/** A running FreeRADIUS. */
export interface FreeRadius {
  /** Its log so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Copies Debian's configuration into a temporary directory and starts FreeRADIUS on it. */
export async function startFreeRadius(o: FreeRadiusOptions): Promise<FreeRadius> {
  const dir = await Deno.makeTempDir({ prefix: "freeradius-" });
  const cp = await new Deno.Command("cp", { args: ["-r", "/etc/freeradius/3.0/.", dir] }).output();
  if (cp.code !== 0) {
    throw new Error("no /etc/freeradius/3.0: run 'bash .ci/install_deps.sh --with-interop'");
  }
  const conf = await Deno.readTextFile(`${dir}/radiusd.conf`);
  // Stay root (the copy is ours), log to stdout.
  await Deno.writeTextFile(
    `${dir}/radiusd.conf`,
    conf.replace(/^(\s*)(user|group) = freerad/gm, "$1#$2 = freerad"),
  );
  await Deno.remove(`${dir}/sites-enabled/inner-tunnel`).catch(() => {});
  // One virtual server on our address and port: the user's password from
  // \`files\`, then EAP (MSCHAPv2 runs the mschap module through Auth-Type MS-CHAP).
  await Deno.writeTextFile(
    `${dir}/sites-enabled/default`,
    `server default {
listen {
  type = auth
  ipaddr = ${o.address}
  port = ${o.port}
}
listen {
  type = acct
  ipaddr = ${o.address}
  port = ${o.port + 1}
}
accounting {
  ok
}
authorize {
  preprocess
  mschap
  eap {
    ok = return
  }
  files
}
authenticate {
  Auth-Type MS-CHAP {
    mschap
  }
  eap
}
post-auth {
  Post-Auth-Type REJECT {
    attr_filter.access_reject
    eap
  }
}
}
`,
  );
  await Deno.writeTextFile(
    `${dir}/mods-enabled/eap`,
    `eap {
  default_eap_type = ${o.defaultEapType ?? "mschapv2"}
  timer_expire = 60
  ignore_unknown_eap_types = no
  max_sessions = 4096
  md5 {
  }
  mschapv2 {
  }
${
      o.tls
        ? `  tls-config tls-common {
    private_key_file = ${o.tls.key}
    certificate_file = ${o.tls.cert}
    ca_file = ${o.tls.ca}
    fragment_size = 1024
    tls_min_version = "1.2"
    tls_max_version = "1.2"
  }
  tls {
    tls = tls-common
  }
  ttls {
    tls = tls-common
    default_eap_type = mschapv2
    virtual_server = "default"
  }
  peap {
    tls = tls-common
    default_eap_type = mschapv2
    virtual_server = "default"
  }
`
        : ""
    }}
`,
  );
  await Deno.writeTextFile(
    `${dir}/clients.conf`,
    `client tests {\n  ipaddr = ${o.clients}\n  secret = "${o.secret}"\n}\n`,
  );
  await Deno.writeTextFile(
    `${dir}/mods-config/files/authorize`,
    Object.entries(o.users).map(([u, p]) => {
      const { password, reply } = typeof p === "string" ? { password: p, reply: [] } : p;
      return `"${u}" Cleartext-Password := "${password}"\n${
        reply.map((r, i) => `\t${r}${i + 1 < reply.length ? "," : ""}\n`).join("")
      }`;
    }).join(""),
  );
  const args = ["-X", "-d", dir];
  const child = new Deno.Command(o.netns ? "ip" : "freeradius", {
    args: o.netns ? ["netns", "exec", o.netns, "freeradius", ...args] : args,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const dec = new TextDecoder();
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) text += dec.decode(chunk);
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* exited */ }
    await child.status;
    await pumps.catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  for (let i = 0; i < 100; i++) {
    if (text.includes("Ready to process requests")) return { log: () => text, stop };
    if (/Error|Failed/.test(text) && i > 10) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`FreeRADIUS did not start:\n${text}`);
}
