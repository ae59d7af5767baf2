/**
 * A tiny DNS server for tests (RFC 1035 section 4): answers every standard
 * query for an A record with one fixed address, NXDOMAIN-free, and anything
 * else with an empty answer. Prints "ready" once bound, and one line
 * "query NAME" per question it answers.
 *
 * ```sh
 * deno run --allow-net tests/helpers/dns_responder.ts 10.1.0.53 10.1.0.80
 * ```
 *
 * @module
 */

import { createSocket } from "node:dgram";

/** The question's name as dotted text and the offset after QTYPE/QCLASS, or null if malformed. */
function question(q: Uint8Array): { name: string; end: number; qtype: number } | null {
  const labels: string[] = [];
  let i = 12;
  while (i < q.length && q[i] !== 0) {
    const n = q[i];
    if (n > 63 || i + 1 + n > q.length) return null;
    labels.push(new TextDecoder().decode(q.subarray(i + 1, i + 1 + n)));
    i += 1 + n;
  }
  if (i + 5 > q.length) return null;
  const qtype = (q[i + 1] << 8) | q[i + 2];
  return { name: labels.join("."), end: i + 5, qtype };
}

/** The response to query `q`: same ID and question, QR=1 AA=1 RD copied, RA=1, one A answer. */
export function dnsAnswer(q: Uint8Array, address: string): Uint8Array | null {
  if (q.length < 12 || (q[2] & 0x80) !== 0) return null; // not a query
  const qdcount = (q[4] << 8) | q[5];
  if (qdcount !== 1) return null;
  const qn = question(q);
  if (!qn) return null;
  const answer = qn.qtype === 1;
  const out = new Uint8Array(qn.end + (answer ? 16 : 0));
  out.set(q.subarray(0, qn.end));
  out[2] = 0x84 | (q[2] & 0x01); // QR, AA, RD as asked
  out[3] = 0x80; // RA, RCODE 0
  out.set([0, 1, 0, answer ? 1 : 0, 0, 0, 0, 0], 4); // QD=1 AN ARCOUNT/NS=0
  if (answer) {
    const a = address.split(".").map(Number);
    // Name pointer to offset 12, TYPE A, CLASS IN, TTL 60, RDLENGTH 4, address.
    out.set([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...a], qn.end);
  }
  return out;
}

if (import.meta.main) {
  const [listen, address] = Deno.args;
  const sock = createSocket(listen.includes(":") ? "udp6" : "udp4");
  sock.on("message", (q: Uint8Array, from: { address: string; port: number }) => {
    const r = dnsAnswer(q, address);
    if (!r) return;
    console.log(`query ${question(q)?.name}`);
    sock.send(r, from.port, from.address);
  });
  sock.bind(53, listen, () => console.log("ready"));
}
