import { afterEach, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { startUnansweredPort } from "../../test/support/unanswered-port";
import { tcpConnector } from "./tcp";
import { MAX_BATCH_PACKETS } from "./socket-stream";
import { TransportError, type ByteStream } from "./types";
import { until } from "../../test/support/wait";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

interface Peer {
  port: number;
  received: () => Uint8Array;
  receivedBytes: () => number;
  sockets: Socket<unknown>[];
  events: string[];
}

/** A loopback server that records what it receives; `reply` decides what it answers. */
function startPeer(reply: (socket: Socket<unknown>, chunk: Uint8Array) => void = () => {}, hostname = "127.0.0.1"): Peer {
  const chunks: Uint8Array[] = [];
  let receivedBytes = 0;
  const sockets: Socket<unknown>[] = [];
  const events: string[] = [];
  const server: TCPSocketListener<unknown> = Bun.listen({
    hostname,
    port: 0,
    socket: {
      binaryType: "uint8array",
      open(socket) {
        sockets.push(socket);
        events.push(`open ${socket.remoteAddress}`);
      },
      data(socket, chunk) {
        chunks.push(new Uint8Array(chunk));
        receivedBytes += chunk.length;
        reply(socket, chunk);
      },
      close() {
        events.push("close");
      },
    },
  });
  cleanups.push(() => server.stop(true));
  return { port: server.port, received: () => Buffer.concat(chunks), receivedBytes: () => receivedBytes, sockets, events };
}

function recorder() {
  const data: Uint8Array[] = [];
  const closes: (Error | undefined)[] = [];
  return {
    data,
    closes,
    handlers: { onData: (chunk: Uint8Array) => data.push(chunk), onClose: (error?: Error) => closes.push(error) },
  };
}

/** TCP segments sent so far by this host's connection to 127.0.0.1:port (iproute2's ss). */
function segmentsSentTo(port: number): number {
  const out = Bun.spawnSync(["ss", "-tinH", "state", "established", `( dport = :${port} )`]).stdout.toString();
  const count = /segs_out:(\d+)/.exec(out)?.[1];
  if (count === undefined) throw new Error(`ss shows no connection to port ${port}: ${out}`);
  return Number(count);
}

/** Deterministic bytes: a fixed 64 KiB block repeated, each copy stamped with its index (catches reordering). */
function pattern(length: number): Uint8Array {
  const block = new Uint8Array(65_536).map((_, i) => (i * 7) & 0xff);
  const bytes = new Uint8Array(length);
  for (let offset = 0, index = 0; offset < length; offset += block.length, index++) {
    bytes.set(block.subarray(0, length - offset), offset);
    new DataView(bytes.buffer).setUint32(offset, index);
  }
  return bytes;
}

async function connectFailure(promise: Promise<ByteStream>): Promise<TransportError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransportError);
  return error as TransportError;
}

describe("tcpConnector", () => {
  test("connects and carries bytes both ways", async () => {
    const peer = startPeer((socket, chunk) => socket.write(chunk));
    const rec = recorder();
    const stream = await tcpConnector.connect({ host: "127.0.0.1", port: peer.port }, rec.handlers, 1_000);
    expect(stream.remote).toBe(`127.0.0.1:${peer.port}`);
    stream.write(new Uint8Array([1, 2, 3]));
    await until(() => Buffer.concat(rec.data).length === 3);
    expect([...Buffer.concat(rec.data)]).toEqual([1, 2, 3]);
    stream.close();
  });

  test("an IPv6 peer is shown in brackets", async () => {
    const peer = startPeer(() => {}, "::1");
    const stream = await tcpConnector.connect({ host: "::1", port: peer.port }, recorder().handlers, 1_000);
    expect(stream.remote).toBe(`[::1]:${peer.port}`);
    stream.close();
  });

  test("a refused connect is kind refused and names the server", async () => {
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = server.port;
    server.stop(true);
    const error = await connectFailure(tcpConnector.connect({ host: "127.0.0.1", port }, recorder().handlers, 1_000));
    expect(error.kind).toBe("refused");
    expect(error.message).toBe(`connect to 127.0.0.1:${port} failed: connection refused (ECONNREFUSED)`);
  });

  test("a connect that never completes times out after timeoutMs", async () => {
    const unanswered = await startUnansweredPort();
    cleanups.push(unanswered.stop);
    const rec = recorder();
    const started = performance.now();
    const error = await connectFailure(tcpConnector.connect({ host: unanswered.host, port: unanswered.port }, rec.handlers, 200));
    const elapsed = performance.now() - started;
    expect(error.kind).toBe("timeout");
    expect(error.message).toBe(`connect to 127.0.0.1:${unanswered.port} timed out after 200 ms`);
    expect(error.handshakeFailure).toBeUndefined();
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1_500);
    expect(rec.closes).toEqual([]); // a stream that never opened never reports a close
  });

  test("binds the source address", async () => {
    const peer = startPeer();
    const stream = await tcpConnector.connect(
      { host: "127.0.0.1", port: peer.port, sourceAddress: "127.0.0.2" },
      recorder().handlers,
      1_000,
    );
    await until(() => peer.events.length > 0);
    expect(peer.events[0]).toBe("open 127.0.0.2");
    stream.close();
  });

  test("a source address this host does not have is a clear error", async () => {
    const peer = startPeer();
    const error = await connectFailure(
      tcpConnector.connect({ host: "127.0.0.1", port: peer.port, sourceAddress: "192.0.2.7" }, recorder().handlers, 1_000),
    );
    expect(error.kind).toBe("other");
    expect(error.message).toBe(
      `connect to 127.0.0.1:${peer.port} from 192.0.2.7 failed: source address not available on this host (EADDRNOTAVAIL)`,
    );
  });

  test("an unknown host name is a clear error", async () => {
    const error = await connectFailure(tcpConnector.connect({ host: "no-such-host.invalid", port: 49 }, recorder().handlers, 2_000));
    expect(error.kind).toBe("other");
    expect(error.message).toContain("no-such-host.invalid:49 failed: host name not found");
  });

  test("packets written in one turn go out in one segment per MAX_BATCH_PACKETS; the caller may reuse its buffer at once", async () => {
    const peer = startPeer();
    const stream = await tcpConnector.connect({ host: "127.0.0.1", port: peer.port }, recorder().handlers, 2_000);
    await until(() => peer.sockets.length === 1);
    const count = MAX_BATCH_PACKETS + 4;
    const before = segmentsSentTo(peer.port);
    const packet = new Uint8Array(50);
    for (let i = 0; i < count; i++) {
      packet.fill(i);
      stream.write(packet);
    }
    await until(() => peer.receivedBytes() === count * 50);
    const received = peer.received();
    expect([...received].filter((_, at) => at % 50 === 0)).toEqual(Array.from({ length: count }, (_, i) => i));
    // The kernel's own count (ss -i segs_out): a full slice, then the rest at the end of the turn,
    // where a write per packet sends twenty.
    expect(segmentsSentTo(peer.port) - before).toBe(2);
    stream.close();
  });

  test("a large write is queued under back-pressure and arrives whole and in order", async () => {
    const peer = startPeer();
    const stream = await tcpConnector.connect({ host: "127.0.0.1", port: peer.port }, recorder().handlers, 1_000);
    const big = pattern(16 * 1024 * 1024);
    const tail = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
    stream.write(big); // far beyond the socket buffer: most of it waits in the queue
    stream.write(tail); // queued behind it, never overtaking
    big.fill(0); // the caller may reuse its buffer right away
    await until(() => peer.receivedBytes() === big.length + tail.length, 10_000);
    const received = peer.received();
    expect(Buffer.compare(received.subarray(0, big.length), pattern(big.length))).toBe(0);
    expect([...received.subarray(big.length)]).toEqual([...tail]);
    stream.close();
  });

  test("close is idempotent, reports once, drops later writes and sends FIN", async () => {
    const peer = startPeer();
    const rec = recorder();
    const stream = await tcpConnector.connect({ host: "127.0.0.1", port: peer.port }, rec.handlers, 1_000);
    stream.close();
    stream.close();
    stream.write(new Uint8Array([9]));
    await until(() => peer.events.includes("close"));
    expect(rec.closes).toEqual([undefined]);
    expect(peer.received().length).toBe(0);
  });

  test("close after a large write still delivers every queued byte, then FIN", async () => {
    const peer = startPeer();
    const rec = recorder();
    const stream = await tcpConnector.connect({ host: "127.0.0.1", port: peer.port }, rec.handlers, 1_000);
    const big = pattern(8 * 1024 * 1024);
    stream.write(big);
    stream.close();
    expect(rec.closes).toEqual([undefined]);
    await until(() => peer.events.includes("close"), 5_000);
    expect(peer.receivedBytes()).toBe(big.length);
    expect(Buffer.compare(peer.received(), big)).toBe(0);
  });

  test("the peer closing ends the stream once without an error", async () => {
    const peer = startPeer();
    const rec = recorder();
    const stream = await tcpConnector.connect({ host: "127.0.0.1", port: peer.port }, rec.handlers, 1_000);
    await until(() => peer.sockets.length === 1);
    peer.sockets[0]!.end();
    await until(() => rec.closes.length > 0);
    await Bun.sleep(20);
    expect(rec.closes).toEqual([undefined]);
    stream.close(); // after the peer closed: nothing more happens
    expect(rec.closes.length).toBe(1);
  });

  test("an exception in the owner's onData closes the stream instead of crashing", async () => {
    const peer = startPeer((socket) => void socket.write(new Uint8Array([1])));
    const closes: (Error | undefined)[] = [];
    const handlers = {
      onData: () => {
        throw new Error("engine bug");
      },
      onClose: (error?: Error) => void closes.push(error),
    };
    const stream = await tcpConnector.connect({ host: "127.0.0.1", port: peer.port }, handlers, 1_000);
    stream.write(new Uint8Array([0]));
    await until(() => closes.length > 0);
    expect(closes[0]).toBeInstanceOf(TransportError);
    expect(closes[0]!.message).toBe(`connection to 127.0.0.1:${peer.port} failed: engine bug`);
    await until(() => peer.events.includes("close"));
  });

  test("a reset by the peer ends the stream with a reset error", async () => {
    const peer = startPeer();
    const rec = recorder();
    await tcpConnector.connect({ host: "127.0.0.1", port: peer.port }, rec.handlers, 1_000);
    await until(() => peer.sockets.length === 1);
    peer.sockets[0]!.terminate();
    await until(() => rec.closes.length > 0);
    await Bun.sleep(20);
    expect(rec.closes.length).toBe(1);
    const error = rec.closes[0];
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).kind).toBe("reset");
    expect(error!.message).toBe(`connection to 127.0.0.1:${peer.port} failed: connection reset (ECONNRESET)`);
  });
});
