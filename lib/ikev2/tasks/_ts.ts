/**
 * Child config traffic selector strings to IKEv2 traffic selectors (private
 * to the tasks). Syntax as swanctl's local_ts/remote_ts: an address, prefix
 * or range (or "dynamic" for the IKE address), optionally followed by
 * "[proto/port]", e.g. "10.1.0.0/16[tcp/80]", "dynamic[udp]".
 *
 * @module
 */
import { parseIp } from "../../db/address.ts";
import type { TrafficSelector } from "../../db/narrow.ts";
import {
  ANY_PORT,
  icmpSelector,
  IpProto,
  parseAddressSelector,
  parsePortSelector,
  parseProtocol,
  type PortSelector,
  type Selector,
} from "../../db/selector.ts";
import { selectorToTs } from "../../db/narrow.ts";

/**
 * The port selector of "[proto/port]". For ICMP and ICMPv6 a lone number
 * below 256 is a message type ("[icmp/8]": type 8, any code, as in
 * lib/config) and "type/code" one code ("[icmp/3/4]"); anything else
 * (a number from 256 up, a range) is the raw 16-bit type<<8|code value of
 * the wire (RFC 7296 section 3.13.1).
 */
function portFor(proto: Selector["protocol"], text: string): PortSelector {
  if (proto === IpProto.ICMP || proto === IpProto.ICMPV6) {
    const t = /^([0-9]{1,3})(?:\/([0-9]{1,3}))?$/.exec(text);
    if (t && Number(t[1]) < 256) {
      const code = t[2] === undefined ? undefined : Number(t[2]);
      return icmpSelector(Number(t[1]), code ?? 0, code ?? 255);
    }
  }
  return parsePortSelector(text);
}

/**
 * Parses one traffic selector string; `dynamic` is replaced by `ikeAddress`.
 * Throws SelectorError (lib/db/selector.ts) on bad syntax.
 */
export function parseTsSpec(spec: string, ikeAddress: string): TrafficSelector[] {
  let addr = spec.trim();
  let proto: Selector["protocol"] = "any";
  let port = ANY_PORT;
  const m = /^(.*)\[([^\]]*)\]$/.exec(addr);
  if (m) {
    addr = m[1].trim();
    const slash = m[2].indexOf("/");
    const p = slash < 0 ? m[2] : m[2].slice(0, slash);
    const po = slash < 0 ? undefined : m[2].slice(slash + 1).trim();
    if (p.trim() !== "" && p.trim() !== "%any") proto = parseProtocol(p.trim());
    if (po !== undefined && po !== "" && po !== "%any") port = portFor(proto, po);
  }
  if (addr === "dynamic" || addr === "%dynamic") addr = ikeAddress;
  if (addr === "" || addr === "%any") {
    addr = parseIp(ikeAddress)?.version === 6 ? "::/0" : "0.0.0.0/0";
  }
  const sel: Selector = {
    localAddress: parseAddressSelector(addr),
    remoteAddress: parseAddressSelector(addr),
    protocol: proto,
    localPort: port,
    remotePort: port,
  };
  return selectorToTs(sel, "local");
}

/** Parses a list of traffic selector strings. */
export function parseTsSpecs(specs: readonly string[], ikeAddress: string): TrafficSelector[] {
  return specs.flatMap((s) => parseTsSpec(s, ikeAddress));
}

/**
 * Parses a list of traffic selector strings where `dynamic` stands for
 * every address of `addresses` (e.g. an IPv4 and an IPv6 virtual IP); other
 * specs are parsed once, with the first address as the IKE address.
 */
export function parseTsSpecsDynamic(
  specs: readonly string[],
  addresses: readonly string[],
): TrafficSelector[] {
  return specs.flatMap((s) =>
    /^\s*%?dynamic\b/.test(s)
      ? addresses.flatMap((a) => parseTsSpec(s, a))
      : parseTsSpec(s, addresses[0])
  );
}
