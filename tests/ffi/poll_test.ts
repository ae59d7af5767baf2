import assert from "node:assert/strict";
import { EventFd, signalEventFd } from "../../ffi/eventfd.ts";
import { LibcError } from "../../ffi/libc.ts";
import { PollSet } from "../../ffi/poll.ts";
import { MmsgBatch, openUdpSocket } from "../../ffi/socket.ts";

Deno.test("EventFd + PollSet: a signal wakes poll, drain resets the counter", () => {
  const ev = EventFd.create();
  try {
    const ps = new PollSet([ev.fd]);
    assert.equal(ps.wait(0), 0);
    assert.equal(ps.readable(0), false);
    ev.signal();
    assert.ok(signalEventFd(ev.fd));
    assert.equal(ps.wait(1000), 1);
    assert.equal(ps.readable(0), true);
    assert.equal(ev.drain(), 2);
    assert.equal(ev.drain(), 0);
    assert.equal(ps.wait(0), 0);
  } finally {
    ev.close();
  }
});

Deno.test("LibcError names the errno: binding a UDP port twice is EADDRINUSE", () => {
  const lo = Uint8Array.of(127, 0, 0, 1);
  const a = openUdpSocket({ family: 4, port: 0, address: lo });
  try {
    assert.throws(
      () => openUdpSocket({ family: 4, port: a.port, address: lo }),
      (e: unknown) => e instanceof LibcError && e.code === "EADDRINUSE" && e.errno === 98,
    );
  } finally {
    a.close();
  }
});

Deno.test("MmsgBatch: reserve/commit + sendmmsg, recvmmsg into slots with headroom (loopback)", () => {
  const lo = Uint8Array.of(127, 0, 0, 1);
  const rx = openUdpSocket({ family: 4, port: 0, address: lo });
  const tx = openUdpSocket({ family: 4, port: 0, address: lo });
  try {
    const out = new MmsgBatch(4, 256);
    for (let i = 0; i < 3; i++) {
      const slot = out.reserve()!;
      slot.fill(i + 1, 0, 10 + i);
      out.commit(10 + i, lo, rx.port);
    }
    assert.equal(out.flush(tx.fd), 3);
    assert.equal(out.pending, 0);
    const ps = new PollSet([rx.fd]);
    assert.equal(ps.wait(1000), 1);
    const inb = new MmsgBatch(8, 512, 48);
    assert.equal(inb.recv(rx.fd), 3);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(inb.data(i), new Uint8Array(10 + i).fill(i + 1));
      assert.equal(inb.slot(i)[48], i + 1, "data starts after the headroom");
      assert.deepEqual(inb.peerAddress(i), lo);
      assert.equal(inb.peerPort(i), tx.port);
    }
    assert.equal(inb.recv(rx.fd), 0, "nothing left: EAGAIN is 0, not an error");
  } finally {
    rx.close();
    tx.close();
  }
});
