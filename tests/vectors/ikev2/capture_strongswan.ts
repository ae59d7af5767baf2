/**
 * Captures real strongSwan (Debian 12 charon-systemd 5.9) IKEv2 sessions for
 * tests/vectors/ikev2/strongswan_capture.json. Per run: two charons in
 * namespaces tcodec-a / tcodec-b joined by a veth pair, PSK auth, one IKE
 * proposal, `swanctl --initiate`, then `--terminate` (an INFORMATIONAL with
 * Delete); dumpcap records UDP 500/4500 on the initiator side.
 *
 * Recorded per run: every IKE message (non-ESP marker stripped) with its
 * sender; the initiator charon's "generating/parsed ... [ ... ]" log lines;
 * and, from a second charon filelog at level 4 for "ike", the key schedule
 * charon logged: shared D-H secret, SKEYSEED and SK_d/ai/ar/ei/er/pi/pr, plus
 * the PSK AUTH inputs and outputs (IDx', SK_p, octets, AUTH).
 * Namespaces, processes and temp files are removed in `finally`.
 *
 * Run: deno run -A tests/vectors/ikev2/capture_strongswan.ts > tests/vectors/ikev2/strongswan_capture.json
 */
import { Charon, swanctlConf } from "../../helpers/strongswan.ts";
import { charonHexDumps as hexDumps } from "./_charon_keys.ts";

const A = "tcodec-a", B = "tcodec-b";

async function sh(...args: string[]): Promise<void> {
  const r = await new Deno.Command(args[0], { args: args.slice(1), stderr: "piped" }).output();
  if (!r.success) throw new Error(`${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

async function captureRun(ikeProposal: string) {
  const dir = await Deno.makeTempDir({ prefix: "codec-capture-" });
  const charons: Charon[] = [];
  let dump: Deno.ChildProcess | undefined;
  try {
    await sh("ip", "netns", "add", A);
    await sh("ip", "netns", "add", B);
    await sh(
      "ip",
      "link",
      "add",
      "tcodec-va",
      "netns",
      A,
      "type",
      "veth",
      "peer",
      "tcodec-vb",
      "netns",
      B,
    );
    await sh("ip", "-n", A, "addr", "add", "10.77.0.1/24", "dev", "tcodec-va");
    await sh("ip", "-n", B, "addr", "add", "10.77.0.2/24", "dev", "tcodec-vb");
    for (const ns of [A, B]) {
      await sh("ip", "-n", ns, "link", "set", "lo", "up");
      await sh("ip", "-n", ns, "link", "set", ns === A ? "tcodec-va" : "tcodec-vb", "up");
    }
    const pcap = `${dir}/ike.pcap`;
    dump = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        A,
        "dumpcap",
        "-q",
        "-i",
        "tcodec-va",
        "-f",
        "udp port 500 or udp port 4500",
        "-w",
        pcap,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await new Promise((r) => setTimeout(r, 1500));
    const common = {
      auth: "psk" as const,
      psk: "codec-capture-secret",
      ikeProposal,
      espProposal: "aes256gcm16,aes128-sha256",
      extra: ["fragmentation = yes"],
    };
    // A second filelog at level 4 for "ike" makes charon log its key schedule.
    const keyLog =
      `filelog {\n    keys {\n      path = ${dir}/keys.log\n      default = 0\n      ike = 4\n    }\n  }`;
    charons.push(
      await Charon.start({
        ns: A,
        dir: `${dir}/a`,
        extraCharonConf: keyLog,
        swanctlConf: swanctlConf({
          ...common,
          name: "cap",
          localAddr: "10.77.0.1",
          remoteAddr: "10.77.0.2",
          localId: "moon.strongswan.org",
          remoteId: "sun.strongswan.org",
          localTs: "10.1.0.0/16",
          remoteTs: "10.2.0.0/16",
        }),
      }),
      await Charon.start({
        ns: B,
        dir: `${dir}/b`,
        swanctlConf: swanctlConf({
          ...common,
          name: "cap",
          localAddr: "10.77.0.2",
          remoteAddr: "10.77.0.1",
          localId: "sun.strongswan.org",
          remoteId: "moon.strongswan.org",
          localTs: "10.2.0.0/16",
          remoteTs: "10.1.0.0/16",
        }),
      }),
    );
    const r = await charons[0].swanctl(["--initiate", "--child", "cap", "--timeout", "10"]);
    // The CHILD_SA may fail (kernel-libipsec + forced encap); the IKE SA is what we capture.
    if (!/IKE_SA cap\[1\] established/.test(r.stdout)) {
      throw new Error(`initiate failed: ${r.stdout}${r.stderr}\n${await charons[0].log()}`);
    }
    await charons[0].swanctl(["--terminate", "--ike", "cap", "--timeout", "5"]);
    await new Promise((r) => setTimeout(r, 1500));
    dump.kill("SIGTERM");
    await dump.status;
    dump = undefined;
    const out = await new Deno.Command("tshark", {
      args: [
        "-n",
        "-r",
        pcap,
        "-T",
        "fields",
        "-e",
        "ip.src",
        "-e",
        "udp.dstport",
        "-e",
        "udp.payload",
      ],
      stdout: "piped",
      stderr: "null",
    }).output();
    const messages = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => {
      const [src, dport, payload] = l.split("\t");
      const hex = payload.replaceAll(":", "");
      return {
        from: src === "10.77.0.1" ? "initiator" : "responder",
        hex: dport === "4500" ? hex.slice(8) : hex, // strip the non-ESP marker
      };
    }).filter((m) => m.hex.length >= 56);
    const log = await charons[0].log();
    const enc = log.split("\n").flatMap((l) => {
      const m = /\[ENC\] ((?:generating|parsed) .*\])/.exec(l);
      return m ? [m[1]] : [];
    });
    const dumps = hexDumps(await Deno.readTextFile(`${dir}/keys.log`));
    const key = (n: string) => dumps.find((d) => d.name === n)?.hex ?? "";
    return {
      ikeProposal,
      config: { ...common, initiatorId: "moon.strongswan.org", responderId: "sun.strongswan.org" },
      log: enc,
      keys: {
        sharedSecret: key("shared Diffie Hellman secret"),
        skeyseed: key("SKEYSEED"),
        skD: key("Sk_d secret"),
        skAi: key("Sk_ai secret"),
        skAr: key("Sk_ar secret"),
        skEi: key("Sk_ei secret"),
        skEr: key("Sk_er secret"),
        skPi: key("Sk_pi secret"),
        skPr: key("Sk_pr secret"),
      },
      // PSK AUTH computation as charon logged it, in order: our AUTH, then the peer's check.
      auth: dumps.filter((d) =>
        d.hex !== "" && /^(IDx'|SK_p|octets|secret|prf\(secret|AUTH)/.test(d.name)
      ),
      messages,
    };
  } finally {
    if (dump) {
      dump.kill("SIGTERM");
      await dump.status;
    }
    for (const c of charons) await c.stop();
    for (const ns of [A, B]) await new Deno.Command("ip", { args: ["netns", "del", ns] }).output();
    await Deno.remove(dir, { recursive: true });
  }
}

const runs = [];
for (const p of ["aes256-sha256-modp2048", "aes128gcm16-prfsha256-x25519"]) {
  runs.push(await captureRun(p));
}
console.log(JSON.stringify(
  {
    source: "strongSwan charon-systemd (Debian 12), captured by capture_strongswan.ts " +
      "(dumpcap for packets, charon ike=4 filelog for keys)",
    runs,
  },
  null,
  1,
));
