/**
 * A tiny TACACS+ client on the codec, for tests that drive a server directly (the test server, the
 * proxy): one connection, replies routed to their session by id, raw writes for misbehaviour.
 * Not the product's upstream engine: no failover, no timeouts beyond the one each call passes.
 */
import type { Socket } from "bun";
import {
  AcctFlags,
  AuthenAction,
  AuthenMethod,
  AuthenService,
  AuthenType,
  Flags,
  FrameReader,
  PacketType,
  VERSION_DEFAULT,
  decodePacket,
  encodeAcctRequest,
  encodeAuthenContinue,
  encodeAuthenStart,
  encodeAuthorRequest,
  encodePacket,
  minorVersionFor,
  newSessionId,
  parseArg,
  type Packet,
} from "../../src/protocol";

export interface TestClientOptions {
  host?: string;
  port: number;
  /** Shared secret; without one packets go out with the unencrypted flag. */
  key?: string;
  /** Connect with TLS (then packets are unencrypted, RFC 9887). */
  tls?: { ca?: string; cert?: string; key?: string; serverName?: string };
  /** Set the single-connect flag on every packet (default false). */
  singleConnect?: boolean;
}

/** The first packet of a session: type, header version and plaintext body. */
export interface Request {
  type: PacketType;
  version: number;
  body: Uint8Array;
}

export class TestClient {
  #socket: Socket<undefined> | undefined;
  readonly #key: Uint8Array | undefined;
  readonly #flags: number;
  readonly #reader = new FrameReader();
  readonly #waiting = new Map<number, { resolve(p: Packet): void; reject(e: Error): void }>();
  /** Bytes the kernel did not take yet, flushed on drain. */
  #unsent: Uint8Array[] = [];
  /** Replies nobody waited for, by arrival. */
  readonly unexpected: Packet[] = [];
  #closeError: Error | undefined;
  /** Resolves with the reason once the connection has ended. */
  readonly closed: Promise<Error>;
  #onClosed!: (error: Error) => void;

  private constructor(options: TestClientOptions) {
    this.#key = options.key === undefined || options.tls ? undefined : new TextEncoder().encode(options.key);
    this.#flags = (this.#key ? 0 : Flags.Unencrypted) | (options.singleConnect ? Flags.SingleConnect : 0);
    this.closed = new Promise((resolve) => (this.#onClosed = resolve));
  }

  /** Resolves once the connection is usable (for TLS: after the handshake). */
  static connect(options: TestClientOptions): Promise<TestClient> {
    const client = new TestClient(options);
    const tls = options.tls && {
      ca: options.tls.ca,
      cert: options.tls.cert,
      key: options.tls.key,
      serverName: options.tls.serverName ?? "localhost",
      minVersion: 0x0304,
    };
    return new Promise((resolve, reject) => {
      Bun.connect<undefined>({
        hostname: options.host ?? "127.0.0.1",
        port: options.port,
        ...(tls ? { tls } : {}),
        socket: {
          binaryType: "uint8array",
          open(socket) {
            client.#socket = socket;
            resolve(client);
          },
          data: (_s, chunk) => client.#onData(chunk),
          drain: () => client.#flush(),
          close(_s, error) {
            const reason = error ?? new Error("connection closed");
            client.#finish(reason);
            reject(reason);
          },
          error(_s, error) {
            client.#finish(error);
            reject(error);
          },
          connectError: (_s, error) => reject(error),
        },
      }).catch(reject);
    });
  }

  get #open(): Socket<undefined> {
    if (this.#socket === undefined) throw new Error("not connected");
    return this.#socket;
  }

  #onData(chunk: Uint8Array): void {
    let frames: Uint8Array[];
    try {
      frames = this.#reader.push(chunk);
    } catch (error) {
      this.#finish(error as Error);
      this.#open.terminate();
      return;
    }
    for (const frame of frames) {
      let packet: Packet;
      try {
        packet = decodePacket(frame, this.#key);
      } catch (error) {
        this.#finish(error as Error);
        this.#open.terminate();
        return;
      }
      const waiter = this.#waiting.get(packet.header.sessionId);
      this.#waiting.delete(packet.header.sessionId);
      if (waiter) waiter.resolve(packet);
      else this.unexpected.push(packet);
    }
  }

  #finish(error: Error): void {
    if (this.#closeError) return;
    this.#closeError = error;
    for (const waiter of this.#waiting.values()) waiter.reject(error);
    this.#waiting.clear();
    this.#onClosed(error);
  }

  /** Encodes a packet with this client's key and flags (override with `flags`). */
  packet(type: PacketType, version: number, seqNo: number, sessionId: number, body: Uint8Array, flags = this.#flags): Uint8Array {
    return encodePacket({ version, type, seqNo, flags, sessionId }, body, this.#key);
  }

  /** Writes bytes as they are (one write call unless the kernel pushes back). */
  writeRaw(bytes: Uint8Array): void {
    if (this.#unsent.length > 0) {
      this.#unsent.push(bytes);
      return;
    }
    const written = this.#open.write(bytes);
    if (written < bytes.length) this.#unsent.push(bytes.subarray(Math.max(written, 0)));
  }

  #flush(): void {
    while (this.#unsent.length > 0) {
      const bytes = this.#unsent[0]!;
      const written = this.#open.write(bytes);
      if (written < bytes.length) {
        this.#unsent[0] = bytes.subarray(Math.max(written, 0));
        return;
      }
      this.#unsent.shift();
    }
  }

  /** Resolves with the next reply for `sessionId`; rejects when the stream ends or after `timeoutMs`. */
  reply(sessionId: number, timeoutMs = 2000): Promise<Packet> {
    if (this.#closeError) return Promise.reject(this.#closeError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(sessionId);
        reject(new Error(`no reply for session ${sessionId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(sessionId, {
        resolve: (p) => (clearTimeout(timer), resolve(p)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }

  /** Sends one client packet and waits for the reply to it. */
  send(request: Request, sessionId: number, seqNo = 1, timeoutMs?: number): Promise<Packet> {
    const reply = this.reply(sessionId, timeoutMs);
    this.writeRaw(this.packet(request.type, request.version, seqNo, sessionId, request.body));
    return reply;
  }

  /** Starts a new session with a random id and waits for the first reply. */
  request(request: Request, timeoutMs?: number): Promise<Packet> {
    return this.send(request, newSessionId(), 1, timeoutMs);
  }

  close(): void {
    this.#open.end();
  }

  terminate(): void {
    this.#open.terminate();
  }
}

// ---- request builders ----

const NAS = { port: "tty1", remAddr: "192.0.2.1" };
const encoder = new TextEncoder();

export function papLogin(user: string, password: string): Request {
  const body = encodeAuthenStart({
    action: AuthenAction.Login,
    privLvl: 1,
    authenType: AuthenType.Pap,
    service: AuthenService.Login,
    user,
    ...NAS,
    data: encoder.encode(password),
  });
  return { type: PacketType.Authentication, version: minorVersionFor(AuthenAction.Login, AuthenType.Pap), body };
}

export function chapLogin(user: string, data: Uint8Array): Request {
  const body = encodeAuthenStart({ action: AuthenAction.Login, privLvl: 1, authenType: AuthenType.Chap, service: AuthenService.Ppp, user, ...NAS, data });
  return { type: PacketType.Authentication, version: minorVersionFor(AuthenAction.Login, AuthenType.Chap), body };
}

/** ASCII login START; `user` may be empty (the server then asks with GETUSER). */
export function asciiLogin(user: string): Request {
  const body = encodeAuthenStart({
    action: AuthenAction.Login,
    privLvl: 1,
    authenType: AuthenType.Ascii,
    service: AuthenService.Login,
    user,
    ...NAS,
    data: new Uint8Array(0),
  });
  return { type: PacketType.Authentication, version: VERSION_DEFAULT, body };
}

export function authenContinue(userMsg: string, flags = 0): Request {
  const body = encodeAuthenContinue({ flags, userMsg: encoder.encode(userMsg), data: new Uint8Array(0) });
  return { type: PacketType.Authentication, version: VERSION_DEFAULT, body };
}

const requestCommon = { authenMethod: AuthenMethod.TacacsPlus, privLvl: 1, authenType: AuthenType.Ascii, authenService: AuthenService.Login, ...NAS };

/** Authorization REQUEST with "name=value" argument strings. */
export function authorize(user: string, args: readonly string[]): Request {
  const body = encodeAuthorRequest({ ...requestCommon, user, args: args.map(parseArg) });
  return { type: PacketType.Authorization, version: VERSION_DEFAULT, body };
}

/** Authorization of a shell command, e.g. `authorizeCommand("alice", "show", "version")`. */
export function authorizeCommand(user: string, cmd: string, ...cmdArgs: string[]): Request {
  return authorize(user, ["service=shell", `cmd=${cmd}`, ...cmdArgs.map((a) => `cmd-arg=${a}`)]);
}

export function account(user: string, flags: number = AcctFlags.Start, args: readonly string[] = ["service=shell", "task_id=1"]): Request {
  const body = encodeAcctRequest({ ...requestCommon, flags, user, args: args.map(parseArg) });
  return { type: PacketType.Accounting, version: VERSION_DEFAULT, body };
}
