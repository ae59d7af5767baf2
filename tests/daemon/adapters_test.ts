import assert from "node:assert/strict";
import { type RuntimePayload, UserspaceDataplaneAdapter } from "../../lib/daemon/adapters.ts";
import type { Dataplane, DataplaneEvent } from "../../lib/dataplane/dataplane.ts";
import type { Endpoint } from "../../lib/ikev2/effects.ts";

/** The part of the Worker-based Dataplane the adapter drives, recording calls. */
class RecordingDataplane {
  tunName = "ipsec0";
  backend = "test";
  calls: string[] = [];
  listener: ((e: DataplaneEvent) => void) | null = null;
  sendResult = true;
  on(l: (e: DataplaneEvent) => void) {
    this.listener = l;
    return () => {};
  }
  setPolicies() {
    return Promise.resolve();
  }
  sendIke(data: Uint8Array, remote: Uint8Array, port: number, raw: boolean) {
    this.calls.push(`sendIke [${[...data]}] ${remote.join(".")}:${port}${raw ? " raw" : ""}`);
    return Promise.resolve(this.sendResult);
  }
  updateSa(
    dir: "in" | "out",
    proto: "esp" | "ah",
    spi: number,
    local: Uint8Array,
    remote: Uint8Array,
    encap?: { localPort: number; remotePort: number },
  ) {
    this.calls.push(
      `updateSa ${dir} ${proto} ${spi.toString(16)} local ${local.join(".")}:${encap?.localPort} ` +
        `remote ${remote.join(".")}:${encap?.remotePort}`,
    );
    return Promise.resolve(true);
  }
  stop() {
    return Promise.resolve();
  }
}

async function adapter() {
  const fake = new RecordingDataplane();
  const a = new UserspaceDataplaneAdapter(
    () => {},
    () => Promise.resolve(fake as unknown as Dataplane),
    4500,
  );
  await a.configure({ engine: { connections: [] }, spd: [], dataplane: {} } as RuntimePayload);
  return { a, fake };
}

Deno.test("UserspaceDataplaneAdapter: IKE from the encapsulation socket reaches onIke; sendIke passes raw", async () => {
  const { a, fake } = await adapter();
  const got: { bytes: number[]; from: Endpoint }[] = [];
  a.onIke((bytes, from) => got.push({ bytes: [...bytes], from }));
  fake.listener!({
    type: "ike",
    data: new Uint8Array([1, 2]),
    remote: new Uint8Array([198, 51, 100, 7]),
    remotePort: 31000,
    localPort: 4500,
  });
  assert.deepEqual(got, [{ bytes: [1, 2], from: { address: "198.51.100.7", port: 31000 } }]);
  await a.sendIke(new Uint8Array([9]), { address: "198.51.100.7", port: 31000 }, false);
  await a.sendIke(new Uint8Array([0xff]), { address: "198.51.100.7", port: 31000 }, true);
  assert.deepEqual(fake.calls, [
    "sendIke [9] 198.51.100.7:31000",
    "sendIke [255] 198.51.100.7:31000 raw",
  ]);
  fake.sendResult = false;
  await assert.rejects(
    () => a.sendIke(new Uint8Array([9]), { address: "198.51.100.7", port: 31000 }, false),
    /sending IKE to 198\.51\.100\.7\[31000\] from port 4500 failed/,
  );
  await a.close();
});

Deno.test("UserspaceDataplaneAdapter: updateSa maps src/dst and UDP ports onto our side and the peer's", async () => {
  const { a, fake } = await adapter();
  const base = { kind: "updateSa", ikeSaId: 1, childSaId: 2, protocol: "esp" } as const;
  await a.updateSa({
    ...base,
    direction: "out",
    spi: 0x1001,
    src: "192.0.2.1",
    dst: "198.51.100.7",
    encap: { srcPort: 4500, dstPort: 31000 },
  });
  await a.updateSa({
    ...base,
    direction: "in",
    spi: 0x2002,
    src: "198.51.100.7",
    dst: "192.0.2.1",
    encap: { srcPort: 31000, dstPort: 4500 },
  });
  assert.deepEqual(fake.calls, [
    "updateSa out esp 1001 local 192.0.2.1:4500 remote 198.51.100.7:31000",
    "updateSa in esp 2002 local 192.0.2.1:4500 remote 198.51.100.7:31000",
  ]);
  await a.close();
});
