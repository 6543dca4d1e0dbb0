/**
 * TACACS+ clients for load, on the project's codec: the multiplexed single-connect client of
 * scenario 1 (the ceiling) and the legacy connection-per-request client of scenarios 2 and 4.
 */
import type { Socket } from "bun";
import {
  AcctFlags,
  AuthenMethod,
  AuthenService,
  AuthenType,
  Flags,
  FrameReader,
  PacketType,
  VERSION_DEFAULT,
  decodeHeader,
  encodeAcctRequest,
  encodePacket,
  parseArg,
} from "../../src/protocol";
import { MAX_BATCH_PACKETS } from "../../src/transport/socket-stream";

/** Where a TACACS+ client connects: TCP (optionally TLS 1.3) or a Unix socket (the proxy). */
export type TacacsTarget =
  | { kind: "tcp"; host: string; port: number; tls?: { ca: string; serverName: string } }
  | { kind: "unix"; path: string };

/** The accounting STOP that the agent sends for scenario 3's gRPC request. */
export const ACCOUNTING_BODY = encodeAcctRequest({
  flags: AcctFlags.Stop,
  authenMethod: AuthenMethod.TacacsPlus,
  privLvl: 1,
  authenType: AuthenType.Ascii,
  authenService: AuthenService.Login,
  user: "admin",
  port: "tty0",
  remAddr: "10.0.0.1",
  args: ["service=shell", "cmd=show", "cmd-arg=version"].map(parseArg),
});

/** TLS carries unobfuscated packets (RFC 9887); plain TCP uses the shared secret. */
function packetKey(target: TacacsTarget, key: Uint8Array | undefined): Uint8Array | undefined {
  return target.kind === "tcp" && target.tls ? undefined : key;
}

function connectOptions(target: TacacsTarget): { hostname: string; port: number; tls?: object } | { unix: string } {
  if (target.kind === "unix") return { unix: target.path };
  const tls = target.tls && { ca: target.tls.ca, serverName: target.tls.serverName, minVersion: 0x0304 };
  return { hostname: target.host, port: target.port, ...(tls ? { tls } : {}) };
}

function packet(sessionId: number, flags: number, key: Uint8Array | undefined): Uint8Array {
  return encodePacket({ version: VERSION_DEFAULT, type: PacketType.Accounting, seqNo: 1, flags: flags | (key ? 0 : Flags.Unencrypted), sessionId }, ACCOUNTING_BODY, key);
}

/**
 * Many sessions over one single-connect connection (RFC 8907 §4.3): replies are routed by
 * session id, and the writes of one event-loop turn go out as one socket write per
 * MAX_BATCH_PACKETS, as the agent's upstream writes them.
 */
export class MuxClient {
  #socket!: Socket<undefined>;
  readonly #key: Uint8Array | undefined;
  readonly #reader = new FrameReader();
  readonly #waiting = new Map<number, (ok: boolean) => void>();
  #pending: Uint8Array[] = [];
  #unsent: Uint8Array | undefined;
  #flushQueued = false;
  #nextSession = (Math.random() * 0x7fffffff) | 0 || 1;
  #closed = false;

  private constructor(key: Uint8Array | undefined) {
    this.#key = key;
  }

  static connect(target: TacacsTarget, key: Uint8Array | undefined): Promise<MuxClient> {
    const client = new MuxClient(packetKey(target, key));
    return new Promise((resolve, reject) => {
      Bun.connect<undefined>({
        ...connectOptions(target),
        socket: {
          binaryType: "uint8array",
          open(socket) {
            // Like the agent's upstream sockets: Nagle would hold requests behind unacknowledged ones.
            if (target.kind === "tcp") socket.setNoDelay(true);
            client.#socket = socket;
            resolve(client);
          },
          data: (_s, chunk) => client.#onData(chunk),
          drain: () => client.#flush(),
          close: () => client.#fail(),
          error: (_s, error) => (client.#fail(), reject(error)),
          connectError: (_s, error) => reject(error),
        },
      } as Parameters<typeof Bun.connect<undefined>>[0]).catch(reject);
    });
  }

  #onData(chunk: Uint8Array): void {
    for (const frame of this.#reader.push(chunk)) {
      const header = decodeHeader(frame);
      const done = this.#waiting.get(header.sessionId);
      if (done === undefined) continue;
      this.#waiting.delete(header.sessionId);
      done(header.type === PacketType.Accounting);
    }
  }

  #fail(): void {
    this.#closed = true;
    for (const done of this.#waiting.values()) done(false);
    this.#waiting.clear();
  }

  /** Sends one accounting request; `done(true)` when its reply arrives. */
  request(done: (ok: boolean) => void): void {
    if (this.#closed) return done(false);
    const sessionId = this.#nextSession;
    this.#nextSession = (this.#nextSession + 1) >>> 0 || 1;
    this.#waiting.set(sessionId, done);
    this.#pending.push(packet(sessionId, Flags.SingleConnect, this.#key));
    if (this.#pending.length === MAX_BATCH_PACKETS) return this.#flush();
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#closed) return;
    const parts = this.#unsent ? [this.#unsent, ...this.#pending] : this.#pending;
    this.#pending = [];
    this.#unsent = undefined;
    if (parts.length === 0) return;
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    const written = this.#socket.write(bytes);
    if (written < bytes.length) this.#unsent = bytes.subarray(Math.max(written, 0));
  }

  close(): void {
    this.#closed = true;
    this.#socket?.end();
  }
}

/** One legacy exchange: connect (and handshake), one request, one reply, close. */
export function legacyRequest(target: TacacsTarget, key: Uint8Array | undefined, done: (ok: boolean) => void): void {
  const bytes = packet((Math.random() * 0xfffffffe + 1) >>> 0, 0, packetKey(target, key));
  const reader = new FrameReader();
  let settled = false;
  const finish = (ok: boolean, socket?: Socket<undefined>) => {
    if (settled) return;
    settled = true;
    socket?.end();
    done(ok);
  };
  Bun.connect<undefined>({
    ...connectOptions(target),
    socket: {
      binaryType: "uint8array",
      open: (socket) => void socket.write(bytes),
      data(socket, chunk) {
        const frames = reader.push(chunk);
        if (frames.length > 0) finish(decodeHeader(frames[0]!).type === PacketType.Accounting, socket);
      },
      close: () => finish(false),
      error: () => finish(false),
      connectError: () => finish(false),
    },
  } as Parameters<typeof Bun.connect<undefined>>[0]).catch(() => finish(false));
}
