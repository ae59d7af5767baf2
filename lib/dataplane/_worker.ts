/**
 * A data-path Worker: blocks in a synchronous `poll()` and drains every
 * ready fd with synchronous calls (no promise per packet). Started by
 * {@link ../dataplane.ts} in one of three roles: "out" (owns the TUN and
 * the sending sockets), "in" (owns the receiving sockets, writes to the TUN
 * fd of the "out" Worker) or "both". Steps 3 and 4 below belong to "out"
 * and "in" respectively.
 *
 * Loop:
 *  1. poll(eventfd, TUN, raw ESP/AH v4/v6, UDP encap v4/v6; tickMs);
 *  2. control messages posted (shared counter) but not yet received: yield
 *     to the event loop until they are, then apply them in order;
 *  3. TUN: read up to `batch` packets (io_uring: one system call for the
 *     batch; else one read each), each -> DataplaneCore.outbound, which
 *     encapsulates straight into a sendmmsg slot; flush the batches;
 *  4. each readable socket: recvmmsg up to `batch` datagrams; rebuild the
 *     outer header in the slot's headroom where the kernel stripped it
 *     (IPv6 raw, UDP), then DataplaneCore.inbound -> TUN write (io_uring:
 *     queued, and the whole batch written in one system call before the
 *     slots are reused);
 *  5. every tickMs: acquire timeouts.
 *
 * System calls, not ESP, dominate the cost per packet on virtual machines
 * (~1.5-2.3 us each measured here, versus ~1 us for AES-GCM through
 * libcrypto), so nothing on the path makes one per packet.
 *
 * Outbound IPsec and BYPASS packets leave through IPPROTO_RAW sockets
 * (header included, as EspSa/AhSa built it) with SO_MARK set, so policy
 * routing sends them to the wire and never back into the TUN. Runs of
 * equal-sized ESP-in-UDP datagrams of one flow leave instead as one
 * segmented send on the UDP encapsulation socket (UDP_SEGMENT, see
 * ffi/udp_gso.ts), and that socket asks for UDP_GRO: the kernel may hand
 * over several datagrams of one flow in one buffer, which step 4 splits.
 * The UDP sockets are opened by the Worker that sends (segmented ESP and
 * IKE leave through them) and read by the one that receives.
 *
 * @module
 */

import { selectCryptoBackend } from "../../ffi/crypto_backend.ts";
import { EventFd } from "../../ffi/eventfd.ts";
import { PollSet } from "../../ffi/poll.ts";
import {
  IP_RECVTOS,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_RECVTCLASS,
  MmsgBatch,
  NetSocket,
  openRawSocket,
  openUdpSocket,
  SOL_UDP,
  UDP_GRO,
} from "../../ffi/socket.ts";
import { UdpGsoSender } from "../../ffi/udp_gso.ts";
import { openTun, TUN_OFFLOAD_FRAME, TunDevice, TunRing } from "../../ffi/tun.ts";
import { writeIpv4Header } from "../ip/ipv4.ts";
import { writeIpv6Header } from "../ip/ipv6.ts";
import { type CoreIo, DataplaneCore, type DataplaneEvent } from "./core.ts";
import type { ControlMessage, WorkerInit, WorkerMessage, WorkerReply } from "./_protocol.ts";
import { buildProcessor } from "./sa_spec.ts";
import { TcpCoalescer } from "./offload.ts";
import { reserveSimdMemory } from "../ip/sum16_simd.ts";
import { setImmediate } from "node:timers";

interface WorkerScope {
  postMessage(m: WorkerMessage): void;
  onmessage: ((e: MessageEvent) => void) | null;
  close(): void;
}
const scope = self as unknown as WorkerScope;
const post = (m: WorkerMessage) => scope.postMessage(m);

/** Headroom before received data: room for an IPv6 header plus a UDP header. */
const HEADROOM = 48;
const RX_SLOT = 9216;
/** A UDP_GRO buffer: up to 64 KB of datagrams of one flow. */
const GRO_SLOT = 65536;
/** UDP_GRO buffers per recvmmsg. */
const GRO_BATCH = 32;
/** Slots that the datagrams of UDP_GRO buffers are copied into, with headroom. */
const GRO_STAGING = 256;
const IPPROTO_RAW = 255;
/** Bytes of coalesced (GRO) frames written per TUN batch before the arena is reused. */
const GRO_ARENA = 1 << 19;

interface RxSocket {
  sock: NetSocket;
  kind: "esp" | "ah" | "udp";
  batch: MmsgBatch;
  /** UDP_GRO is on: a datagram may be several (MmsgBatch.groSize). */
  gro: boolean;
}

const inbox: ControlMessage[] = [];
let received = 0;
let initResolve: (i: WorkerInit) => void;
const initPromise = new Promise<WorkerInit>((r) => initResolve = r);

scope.onmessage = (e: MessageEvent) => {
  const m = e.data as WorkerInit | ControlMessage;
  if (m.type === "init") initResolve(m);
  else {
    inbox.push(m);
    received++;
  }
};

/**
 * One turn of the event loop, so posted control messages get delivered.
 * setImmediate, not setTimeout(0): timers are clamped to >= 1 ms (2-3 ms
 * measured on a loaded VM), and every SA install waits for this once.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

let stopId = -1;

async function main(): Promise<void> {
  const init = await initPromise;
  const control = new Int32Array(init.control);
  const backend = selectCryptoBackend(init.crypto);
  const closers: { close(): void }[] = [];
  try {
    const wake = EventFd.create();
    closers.push(wake);
    const sends = init.role !== "in";
    const receives = init.role !== "out";
    let tun: TunDevice;
    if (sends) {
      tun = openTun({ name: init.tunName, mtu: init.tunMtu, offload: init.tunOffload });
      closers.push(tun);
    } else {
      // The "out" Worker owns the TUN; this one only writes to it.
      tun = new TunDevice(init.tunFd!, init.tunName, false, init.tunOffload === true);
    }
    const rx: RxSocket[] = [];
    const families: (4 | 6)[] = init.ipv6 ? [4, 6] : [4];
    const rxSlot = Math.max(RX_SLOT, init.tunMtu + 512);
    const open = (sock: NetSocket, kind: RxSocket["kind"]) => {
      closers.push(sock);
      // IPv6 raw sockets deliver no header: the Traffic Class comes as ancillary data.
      const v6 = sock.family === 6;
      if (v6) receiveTos(sock);
      const batch = new MmsgBatch(init.batch, rxSlot, HEADROOM, { control: v6 ? 24 : 0 });
      rx.push({ sock, kind, batch, gro: false });
    };
    // UDP encapsulation sockets: the sending Worker opens them, the receiving one reads them.
    const udpSocks: { sock: NetSocket; gro: boolean }[] = [];
    if (init.udpEncapPort && sends) {
      for (const f of families) {
        const sock = openUdpSocket({
          family: f,
          port: init.udpEncapPort,
          mark: init.mark,
          receiveBufferBytes: 4 << 20,
          sendBufferBytes: 4 << 20,
        });
        closers.push(sock);
        receiveTos(sock);
        let gro = false;
        if (init.udpOffload === true) {
          try {
            sock.setIntOption(SOL_UDP, UDP_GRO, 1, "UDP_GRO");
            gro = true;
          } catch {
            // Before Linux 5.0: one datagram per receive, as without offload.
          }
        }
        udpSocks.push({ sock, gro });
      }
    } else if (init.udpEncapPort) {
      for (const u of init.udpFds ?? []) {
        udpSocks.push({
          sock: new NetSocket(u.fd, u.family, "udp", init.udpEncapPort),
          gro: u.gro,
        });
      }
    }
    for (const f of receives ? families : []) {
      open(openRawSocket({ family: f, protocol: 50, receiveBufferBytes: 4 << 20 }), "esp");
      if (init.ah) open(openRawSocket({ family: f, protocol: 51 }), "ah");
      const u = udpSocks.find((x) => x.sock.family === f);
      if (u) {
        // Control room for UDP_GRO's segment size and the local address (IP_PKTINFO,
        // switched on by the main thread when the host has several addresses).
        const batch = u.gro
          ? new MmsgBatch(GRO_BATCH, GRO_SLOT, HEADROOM, {
            control: 96,
            staging: GRO_STAGING,
            stagingSize: rxSlot,
          })
          : new MmsgBatch(init.batch, rxSlot, HEADROOM, { control: 64 });
        rx.push({ sock: u.sock, kind: "udp", batch, gro: u.gro });
      }
    }
    // Outbound: header-included raw sockets, one per family.
    const txSock = (sends ? families : []).map((f) =>
      openRawSocket({ family: f, protocol: IPPROTO_RAW, mark: init.mark, sendBufferBytes: 4 << 20 })
    );
    closers.push(...txSock);
    const txSlot = Math.min(65536, Math.max(2048, init.tunMtu + 256));
    const tx4 = sends ? new MmsgBatch(init.batch, txSlot) : null;
    const tx6 = sends && init.ipv6 ? new MmsgBatch(init.batch, txSlot) : null;
    // Runs of ESP-in-UDP datagrams leave as segmented sends on the UDP socket.
    const gsoFor = (f: 4 | 6) => {
      const u = udpSocks.find((x) => x.sock.family === f);
      return sends && u && init.udpOffload === true
        ? new UdpGsoSender(u.sock.fd, f, u.sock.port, init.batch)
        : null;
    };
    const gso4 = gsoFor(4);
    const gso6 = init.ipv6 ? gsoFor(6) : null;
    let sendErrors = 0;
    const flush = () => {
      if (tx4 && tx4.pending) {
        const n = tx4.pending;
        sendErrors += n - (gso4 ? gso4.flush(tx4, txSock[0].fd) : tx4.flush(txSock[0].fd));
      }
      if (tx6 && tx6.pending) {
        const n = tx6.pending;
        sendErrors += n - (gso6 ? gso6.flush(tx6, txSock[1].fd) : tx6.flush(txSock[1].fd));
      }
    };

    // Offloads on: reads are virtio_net_hdr frames of up to 64 KB (segmented by
    // core.outboundFrame); writes go through a TcpCoalescer (GRO, below).
    const vnet = tun.offload;
    const tunSlotSize = vnet ? TUN_OFFLOAD_FRAME : Math.max(2048, init.tunMtu + 256);
    // With offloads, every segment's TCP checksum is summed where the TUN read
    // put it, or where GRO copies it: that memory is the SIMD sum's own, so
    // no range is copied first (null without WebAssembly SIMD).
    const ringBytes = sends && init.tunRing !== false ? init.batch * tunSlotSize : 0;
    const groBytes = vnet && receives ? GRO_ARENA : 0;
    const simd = vnet ? reserveSimdMemory(TUN_OFFLOAD_FRAME + ringBytes + groBytes) : null;
    const tunBuf = simd?.subarray(0, TUN_OFFLOAD_FRAME) ?? new Uint8Array(TUN_OFFLOAD_FRAME);
    let tunWriteErrors = 0;
    // Many TUN reads/writes per system call where io_uring is available (else one each).
    const ring = init.tunRing === false ? null : TunRing.open(
      tun.fd,
      init.batch,
      tunSlotSize,
      simd && ringBytes > 0
        ? simd.subarray(TUN_OFFLOAD_FRAME, TUN_OFFLOAD_FRAME + ringBytes)
        : undefined,
    );
    if (ring) closers.push(ring);
    // GRO: in-order segments of one TCP flow in a receive batch become one
    // super-packet; everything gets its virtio_net_hdr. Written at batch end.
    const gro = vnet
      ? new TcpCoalescer(
        simd && groBytes > 0 ? simd.subarray(TUN_OFFLOAD_FRAME + ringBytes) : GRO_ARENA,
        ring ? (f) => ring.queueWrite(f) : (f) => void (tun.write(f) || tunWriteErrors++),
        () => ring?.flushWrites(),
      )
      : null;
    /** Packets the next TUN read batch asks for (adapts to what the last one got). */
    let tunWant = 8;
    const io: CoreIo = {
      reserveOut(v4) {
        const b = v4 ? tx4 : tx6;
        if (b === null) return null;
        let s = b.reserve();
        if (s === null) {
          flush();
          s = b.reserve();
        }
        return s;
      },
      commitOut(v4, length) {
        (v4 ? tx4 : tx6)!.commitToIpDestination(length);
      },
      toTun: gro
        ? (p) => {
          // Written by gro.flush() and ring.flushWrites() before the slot is reused.
          gro.push(p);
          return true;
        }
        : ring
        ? (p) => {
          // Written by ring.flushWrites() before the receive slot is reused.
          ring.queueWrite(p);
          return true;
        }
        : (p) => tun.write(p),
      emit: (event: DataplaneEvent) => post({ type: "event", event }),
    };
    const core = new DataplaneCore(io, {
      acquireQueue: init.acquireQueue,
      acquireTimeoutMs: init.acquireTimeoutMs,
      clampMssToMtu: init.tunMtu,
    });

    // Poll slots: 0 = eventfd, then the TUN (if we read it), then the receiving sockets.
    const tunSlot = sends ? 1 : -1;
    const rxBase = sends ? 2 : 1;
    const fds = [wake.fd, ...(sends ? [tun.fd] : []), ...rx.map((r) => r.sock.fd)];
    const ps = new PollSet(fds);
    post({
      type: "ready",
      wakeFd: wake.fd,
      tunName: tun.name,
      tunFd: tun.fd,
      backend: backend.name,
      tunOffload: vnet,
      udpFds: sends
        ? udpSocks.map((u) => ({ fd: u.sock.fd, family: u.sock.family, gro: u.gro }))
        : [],
    });

    let running = true;
    let lastTick = Date.now();
    let lastErrorReport = 0;

    const handle = (m: ControlMessage): boolean | undefined => {
      switch (m.type) {
        case "installSa":
          core.installSa(m.spec, buildProcessor(m.spec, backend));
          return true;
        case "removeSa":
          return core.removeSa(m.direction, m.protocol, m.spi);
        case "updateSa":
          return core.updateSa(m.direction, m.protocol, m.spi, m.local, m.remote, m.encap);
        case "setPolicies":
          core.setPolicies(m.entries, m.instances);
          return true;
        case "addPolicyInstance":
          core.addPolicyInstance(m.instance);
          return true;
        case "removePolicyInstance":
          return core.removePolicyInstance(m.key);
        case "sendIke": {
          const v4 = m.remote.length === 4;
          const r = udpSocks.find((x) => x.sock.family === (v4 ? 4 : 6));
          if (!r) throw new Error("no UDP encapsulation socket for this address family");
          (v4 ? gso4 : gso6)?.beforeOtherSend();
          // Non-ESP marker (RFC 3948 section 2.2), except for a raw keepalive.
          const d = m.raw ? m.data : new Uint8Array(4 + m.data.length);
          if (!m.raw) d.set(m.data, 4);
          let sent = -1;
          if (m.local) {
            try {
              sent = r.sock.sendToFrom(d, m.remote, m.remotePort, m.local);
            } catch {
              // That address is not ours any more (MOBIKE will move the SA): the route's source.
            }
          }
          if (sent < 0) sent = r.sock.sendTo(d, m.remote, m.remotePort);
          return sent === d.length;
        }
        case "stop":
          running = false;
          stopId = m.id;
          return true;
        case "stats":
          return undefined;
      }
    };

    /** Writes out everything queued for the TUN (received packets are views into the batches). */
    const flushTun = () => {
      gro?.flush();
      ring?.flushWrites();
      gro?.reset();
    };
    let udpCoalesced = 0;
    const scratch = new Uint8Array(16);
    const scratch4 = scratch.subarray(0, 4);
    const drainRx = (r: RxSocket) => {
      const b = r.batch;
      const n = b.recv(r.sock.fd);
      const v4 = r.sock.family === 4;
      for (let i = 0; i < n; i++) {
        const slot = b.slot(i);
        const len = b.length(i);
        const at = HEADROOM;
        if (r.kind === "udp") {
          const seg = r.gro ? b.groSize(i) : 0;
          const sc = v4 ? scratch4 : scratch;
          // Where it came from: authenticated ESP from a new NAT mapping is reported.
          b.copyPeerAddress(i, sc, 0);
          core.udpSource(sc, sc.length, b.peerPort(i));
          // The outer TOS / Traffic Class (IP_RECVTOS, IPV6_RECVTCLASS): its ECN field
          // reaches tunnelled packets (RFC 6040); rebuilt headers carry it for transport mode.
          const t = b.tos(i);
          const tos = t < 0 ? 0 : t;
          core.outerEcn(tos);
          if (seg === 0 || seg >= len) {
            inboundUdp(core, b, i, slot, len, v4, init.udpEncapPort, sc, tos);
            continue;
          }
          // Several datagrams of one flow (UDP_GRO): the first is processed in
          // place like any datagram; the others in place too when they are ESP
          // of a tunnel-mode SA (no headers to rebuild in front), else each
          // from a staging slot with headroom of its own.
          udpCoalesced++;
          inboundUdp(core, b, i, slot, seg, v4, init.udpEncapPort, sc, tos);
          for (let off = seg; off < len; off += seg) {
            const l = Math.min(seg, len - off);
            const e = at + off;
            // ESP (not a keepalive, not IKE's zero marker) of a tunnel-mode SA.
            const spi = l >= 8 ? readU32(slot, e) : 0;
            if (spi !== 0 && core.inboundEspPayload(slot, e, e + l, spi)) continue;
            let s = b.stage(i, off, l);
            if (s === null && b.stagingFree === 0) {
              // Every staging slot may still be queued for the TUN: write them out first.
              flushTun();
              b.resetStaging();
              s = b.stage(i, off, l);
            }
            if (s === null) {
              core.drops["not-ipsec"]++;
              continue;
            }
            inboundUdp(core, b, i, s, l, v4, init.udpEncapPort, sc, tos);
          }
          continue;
        }
        const proto = r.kind;
        if (v4) {
          // IPv4 raw sockets deliver the whole packet, header included.
          const ihl = (slot[at] & 15) * 4;
          const spiAt = at + ihl + (proto === "esp" ? 0 : 4);
          if (len < ihl + 8 || spiAt + 4 > at + len) {
            core.drops["not-ipsec"]++;
            continue;
          }
          core.inbound(slot, at, at + len, proto, readU32(slot, spiAt));
        } else {
          // IPv6 raw sockets deliver the payload only: rebuild the header in the headroom.
          const spiAt = at + (proto === "esp" ? 0 : 4);
          if (len < 8 + (proto === "esp" ? 0 : 4)) {
            core.drops["not-ipsec"]++;
            continue;
          }
          const spi = readU32(slot, spiAt);
          const local = core.inboundSpec(proto, spi)?.local ?? new Uint8Array(16);
          b.copyPeerAddress(i, scratch, 0);
          const tclass = b.tos(i);
          writeIpv6Header(slot, at - 40, {
            trafficClass: tclass < 0 ? 0 : tclass,
            flowLabel: 0,
            payloadLength: len,
            nextHeader: proto === "esp" ? 50 : 51,
            hopLimit: 64,
            src: scratch,
            dst: local,
          });
          core.inbound(slot, at - 40, at + len, proto, spi);
        }
      }
      if (r.kind === "udp") {
        core.udpSource(scratch, 0, -1);
        core.outerEcn(0);
      }
      flushTun();
      return n;
    };

    while (running) {
      ps.wait(init.tickMs);
      if (ps.readable(0)) wake.drain();
      const posted = Atomics.load(control, 0);
      while (received < posted) await yieldToEventLoop();
      // One message back for everything handled now (a postMessage costs more than an install).
      const replies: WorkerReply[] = [];
      while (inbox.length > 0) {
        const m = inbox.shift()!;
        try {
          if (m.type === "stats") {
            const s = core.stats();
            s.drops["send-failed"] += sendErrors;
            s.drops["tun-write-failed"] += (ring?.writeErrors ?? 0) + tunWriteErrors;
            s.packets.coalesced = gro?.superPackets ?? 0;
            s.packets.udpSegmented = (gso4?.stats.segments ?? 0) + (gso6?.stats.segments ?? 0);
            s.packets.udpCoalesced = udpCoalesced;
            replies.push({ type: "reply", id: m.id, ok: true, value: s });
          } else {
            const value = handle(m);
            // "stop" is answered after the fds are closed (below).
            if (m.type !== "stop") replies.push({ type: "reply", id: m.id, ok: true, value });
          }
        } catch (e) {
          replies.push({ type: "reply", id: m.id, ok: false, error: (e as Error).message });
        }
      }
      if (replies.length === 1) post(replies[0]);
      else if (replies.length > 1) post({ type: "replies", replies });
      if (!running) break;
      try {
        if (tunSlot > 0 && ps.readable(tunSlot) && ring) {
          for (let round = 0; round < 8; round++) {
            const want = tunWant;
            const n = ring.readBatch(want);
            for (let i = 0; i < n; i++) {
              if (vnet) core.outboundFrame(ring.packet(i));
              else core.outbound(ring.packet(i));
            }
            tunWant = Math.min(init.batch, Math.max(8, n * 2));
            if (n < want) break;
          }
          flush();
        } else if (tunSlot > 0 && ps.readable(tunSlot)) {
          for (let k = 0; k < init.batch * 4; k++) {
            const n = tun.read(tunBuf);
            if (n < 0) break;
            if (vnet) core.outboundFrame(tunBuf.subarray(0, n));
            else core.outbound(tunBuf.subarray(0, n));
          }
          flush();
        }
        for (let k = 0; k < rx.length; k++) {
          if (!ps.readable(rxBase + k)) continue;
          for (let round = 0; round < 4; round++) if (drainRx(rx[k]) < rx[k].batch.count) break;
        }
        flush();
      } catch (e) {
        // A socket or TUN error (e.g. ENOBUFS) must not stop the data plane: report it, go on.
        const now = Date.now();
        if (now - lastErrorReport >= 1000) {
          lastErrorReport = now;
          post({ type: "event", event: { type: "error", message: (e as Error).message } });
        }
      }
      const now = Date.now();
      if (now - lastTick >= init.tickMs) {
        lastTick = now;
        core.tick();
      }
    }
  } catch (e) {
    post({ type: "fatal", message: (e as Error).message });
  } finally {
    // fds belong to the process, not the Worker: close them before saying we stopped.
    for (const c of closers.reverse()) c.close();
  }
  if (stopId >= 0) post({ type: "reply", id: stopId, ok: true, value: true });
  scope.close();
}

/** One datagram from a UDP encapsulation socket (RFC 3948 section 2.2). */
function inboundUdp(
  core: DataplaneCore,
  b: MmsgBatch,
  i: number,
  slot: Uint8Array,
  len: number,
  v4: boolean,
  localPort: number,
  scratch: Uint8Array,
  tos: number,
): void {
  const at = HEADROOM;
  if (len === 1 && slot[at] === 0xff) {
    core.packets.keepalive++;
    return;
  }
  if (len >= 4 && readU32(slot, at) === 0) {
    core.packets.ike++;
    const local = b.localAddress(i);
    post({
      type: "event",
      event: {
        type: "ike",
        data: slot.slice(at + 4, at + len),
        remote: b.peerAddress(i),
        remotePort: b.peerPort(i),
        localPort,
        ...(local ? { local } : {}),
      },
    });
    return;
  }
  if (len < 8) {
    core.drops["not-ipsec"]++;
    return;
  }
  const spi = readU32(slot, at);
  // Tunnel mode: the ESP bytes as they are.
  if (core.inboundEspPayload(slot, at, at + len, spi)) return;
  const spec = core.inboundSpec("esp", spi);
  const local = spec?.local ?? new Uint8Array(v4 ? 4 : 16);
  // `scratch` is 4 bytes (IPv4) or 16 (IPv6): no view per packet.
  b.copyPeerAddress(i, scratch, 0);
  const src = scratch;
  // Rebuild IP + UDP headers in front of the ESP bytes so EspSa sees the packet as sent.
  const ipLen = v4 ? 20 : 40;
  const start = at - 8 - ipLen;
  if (v4) {
    writeIpv4Header(slot, start, {
      tos,
      totalLength: ipLen + 8 + len,
      id: 0,
      df: false,
      ttl: 64,
      protocol: 17,
      src,
      dst: local,
    });
  } else {
    writeIpv6Header(slot, start, {
      trafficClass: tos,
      flowLabel: 0,
      payloadLength: 8 + len,
      nextHeader: 17,
      hopLimit: 64,
      src,
      dst: local,
    });
  }
  const u = start + ipLen;
  const sport = b.peerPort(i);
  slot[u] = sport >> 8;
  slot[u + 1] = sport & 0xff;
  slot[u + 2] = localPort >> 8;
  slot[u + 3] = localPort & 0xff;
  slot[u + 4] = (8 + len) >> 8;
  slot[u + 5] = (8 + len) & 0xff;
  slot[u + 6] = 0;
  slot[u + 7] = 0;
  core.inbound(slot, start, at + len, "esp", spi);
}

/**
 * Asks for each datagram's TOS byte / Traffic Class as ancillary data
 * (MmsgBatch.tos): its ECN field goes on to tunnelled packets (RFC 6040).
 */
function receiveTos(sock: NetSocket): void {
  try {
    if (sock.family === 4) sock.setIntOption(IPPROTO_IP, IP_RECVTOS, 1, "IP_RECVTOS");
    else sock.setIntOption(IPPROTO_IPV6, IPV6_RECVTCLASS, 1, "IPV6_RECVTCLASS");
  } catch {
    // Without it the outer ECN reads as Not-ECT: nothing is carried inward, nothing dropped.
  }
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

main();
