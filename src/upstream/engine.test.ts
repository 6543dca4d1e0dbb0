/** The engine without sockets: an in-memory connector, a manual clock, deterministic randomness. */
import { expect, test } from "bun:test";
import { silentLogger } from "../common/log";
import { AuthorStatus, decodePacket, encodeAuthorReply, encodePacket, Flags, PacketType, VERSION_DEFAULT } from "../protocol";
import { TransportError, type Connector } from "../transport/types";
import { createEngine } from "./engine";
import { ManualClock, sequentialRandom } from "./manual-clock";
import type { EngineOptions, UpstreamServer } from "./types";

const PASS = encodeAuthorReply({ status: AuthorStatus.PassAdd, args: [], serverMsg: "", data: "" });

/** Hosts that refuse or answer every request with PASS_ADD over unencrypted single-connect. */
class FakeNetwork {
  readonly up = new Set<string>();
  readonly connects: string[] = [];
  readonly connector: Connector = {
    connect: async (target, handlers) => {
      this.connects.push(target.host);
      if (!this.up.has(target.host)) throw new TransportError(`connect to ${target.host}:49 failed: connection refused`, "refused");
      return {
        remote: `${target.host}:49`,
        close: () => queueMicrotask(() => handlers.onClose()),
        write: (packet) => {
          const { header } = decodePacket(packet);
          const reply = { ...header, seqNo: header.seqNo + 1, flags: Flags.Unencrypted | Flags.SingleConnect };
          queueMicrotask(() => handlers.onData(encodePacket(reply, PASS)));
        },
      };
    },
  };
}

const server = (host: string): UpstreamServer => ({ name: host, host, port: 49, security: { kind: "tcp" }, singleConnection: true, timeoutMs: 1000 });

function setup(fraction: number, hosts = ["a", "b"]) {
  const clock = new ManualClock();
  const network = new FakeNetwork();
  const options: EngineOptions = { servers: hosts.map(server), connectTimeoutMs: 500, probeIntervalMs: 10_000, maxSessionsInFlight: 10 };
  const engine = createEngine(options, { connectorFor: () => network.connector, clock, random: sequentialRandom(1, fraction), logger: silentLogger });
  const request = () => engine.start({ type: PacketType.Authorization, version: VERSION_DEFAULT, body: new Uint8Array(0), deadline: clock.now() + 5000, resendable: true });
  return { clock, network, engine, request };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

for (const [fraction, earliest] of [
  [0, 9000],
  [0.999, 10_998],
] as const) {
  test(`the probe runs after the interval with jitter (fraction ${fraction} → ${earliest} ms)`, async () => {
    const { clock, network, engine, request } = setup(fraction);
    network.up.add("b");
    expect((await request()).server).toBe("b");
    expect(engine.status()).toMatchObject({ state: "FailedOver", activeServer: 1 });
    network.up.add("a");
    clock.advance(earliest - 1);
    await settle();
    expect(network.connects.filter((h) => h === "a").length).toBe(1); // only the request's attempt
    clock.advance(1);
    await settle();
    expect(network.connects.filter((h) => h === "a").length).toBe(2);
    expect(engine.status().state).toBe("PreferredActive");
    expect((await request()).server).toBe("a");
    expect(network.connects.filter((h) => h === "a").length).toBe(2); // the probe's connection is reused
    await engine.close();
  });
}

test("a failed probe is retried every interval until the preferred server answers", async () => {
  const { clock, network, engine, request } = setup(0.5);
  network.up.add("b");
  await request();
  for (let i = 1; i <= 3; i++) {
    clock.advance(10_000);
    await settle();
    expect(network.connects.filter((h) => h === "a").length).toBe(1 + i);
    expect(engine.status().state).toBe("FailedOver");
  }
  network.up.add("a");
  clock.advance(10_000);
  await settle();
  expect(engine.status().state).toBe("PreferredActive");
  expect(clock.pendingTimers).toBe(0); // no probe while the preferred server is active
  await engine.close();
});

test("nothing is probed while no server responds; requests retry in order on demand", async () => {
  const { clock, network, engine, request } = setup(0.5);
  await expect(request()).rejects.toMatchObject({ kind: "exhausted", server: "b", retriable: true });
  expect(engine.status().state).toBe("NoResponsiveServer");
  clock.advance(100_000);
  await settle();
  expect(network.connects).toEqual(["a", "b"]);
  network.up.add("a");
  expect((await request()).server).toBe("a");
  expect(engine.status().state).toBe("PreferredActive");
  await engine.close();
});

test("close() stops probing", async () => {
  const { clock, network, engine, request } = setup(0.5);
  network.up.add("b");
  await request();
  await engine.close();
  clock.advance(100_000);
  await settle();
  expect(network.connects).toEqual(["a", "b"]);
});

test("an unknown packet type is refused before anything is sent", async () => {
  const { network, engine } = setup(0.5);
  const request = { type: 9, version: VERSION_DEFAULT, body: new Uint8Array(0), deadline: Date.now() + 1000, resendable: true };
  await expect(engine.start(request)).rejects.toMatchObject({ kind: "protocol", retriable: false });
  expect(network.connects).toEqual([]);
  await engine.close();
});
