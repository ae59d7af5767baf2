/**
 * A peer that speaks IKEv1: charon with `version = 1` initiates to our
 * daemon, which speaks IKEv2 only. The daemon drops the Main Mode packets
 * and says why in its log (once, not per retransmission), and nothing
 * comes up on either side.
 *
 * @module
 */
import { benchTest } from "../helpers/interop_system.ts";
import { CHARON_ID, ENGINE_ID } from "../helpers/interop_lab.ts";
import { swanctlConf } from "../helpers/strongswan.ts";

/** The bench's connection on charon's side, as IKEv1 (the key never gets used). */
const IKEV1 = swanctlConf({
  name: "gw",
  childName: "net",
  localAddr: "10.99.0.1",
  remoteAddr: "10.99.0.2",
  localId: CHARON_ID,
  remoteId: ENGINE_ID,
  auth: "psk",
  psk: "an IKEv1 key 2c81",
  ikeProposal: "aes256-sha256-modp2048",
  espProposal: "aes256-sha256",
  localTs: "10.1.0.0/24",
  remoteTs: "10.2.0.0/24",
  extra: ["dpd_delay = 0"],
}).replace("version = 2", "version = 1");

benchTest("an IKEv1 peer gets a clear log line, no SA", async (b) => {
  await b.charon.reload(IKEV1, []);
  const loaded = (await b.charon.swanctl(["--list-conns"])).stdout;
  if (!loaded.includes("gw: IKEv1")) throw new Error(`charon's connection:\n${loaded}`);
  // charon retransmits its first Main Mode packet until it gives up.
  const r = await b.charon.swanctl(["--initiate", "--child", "net", "--timeout", "4"]);
  if (r.code === 0) throw new Error(`an IKEv1 initiation succeeded:\n${r.stdout}`);
  const log = b.daemon.log();
  const lines = log.split("\n").filter((l) => l.includes("IKEv1 message from 10.99.0.1"));
  if (lines.length !== 1) throw new Error(`expected one IKEv1 line in our log:\n${log}`);
  if ((await b.daemon.listSas()).length !== 0) throw new Error("an SA on our side");
  if ((await b.charon.sas()).some((s) => s.state === "ESTABLISHED")) {
    throw new Error("an established SA on charon's side");
  }
});
