/**
 * A scripted legacy TACACS+ client on the project's codec, behaving like pam_tacplus and
 * audisp-tacplus: a fresh connection per request, no single-connect flag, the shared secret of
 * the client's own configuration, seq_no 1, 3, 5 … and a random session id per request.
 * Test support: every wait is bounded, every socket is closed.
 */
import { connect, type Socket } from "node:net";
import type { Endpoint } from "../../src/common/endpoint";
import {
  AuthenAction,
  AuthenMethod,
  AuthenService,
  AuthenStatus,
  AuthenType,
  decodeAcctReply,
  decodeAuthenReply,
  decodeAuthorReply,
  decodePacket,
  encodeAcctRequest,
  encodeAuthenContinue,
  encodeAuthenStart,
  encodeAuthorRequest,
  encodePacket,
  Flags,
  FrameReader,
  minorVersionFor,
  newSessionId,
  PacketType,
  VERSION_DEFAULT,
  type AcctReply,
  type Arg,
  type AuthenReply,
  type AuthorReply,
  type Packet,
  type PacketHeader,
} from "../../src/protocol";

const text = new TextEncoder();

export interface LegacyClientOptions {
  endpoint: Endpoint;
  /** The client's `secret=`; undefined sends packets with the unencrypted flag. */
  key?: Uint8Array;
  /** Bound on each wait for a reply or a close (default 3 s). */
  timeoutMs?: number;
}

/** One downstream TCP/Unix connection speaking whole TACACS+ frames. */
export class LegacyConnection {
  readonly #socket: Socket;
  readonly #reader = new FrameReader();
  readonly #frames: Uint8Array[] = [];
  #closed = false;
  #wake: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      for (const frame of this.#reader.push(new Uint8Array(chunk))) this.#frames.push(frame);
      this.#wake?.();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#wake?.();
    });
    socket.on("error", () => {});
  }

  static open(endpoint: Endpoint, timeoutMs = 3000): Promise<LegacyConnection> {
    return new Promise((resolve, reject) => {
      const socket = endpoint.kind === "unix" ? connect({ path: endpoint.path }) : connect({ host: endpoint.host, port: endpoint.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error("connect timeout"));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve(new LegacyConnection(socket));
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  write(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  /** Half-closes: sends FIN after the queued bytes and keeps reading. */
  finish(): void {
    this.#socket.end();
  }

  /** The next whole frame, or "closed" when the proxy closed first; rejects after `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<Uint8Array | "closed"> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.#frames.shift();
      if (frame) return frame;
      if (this.#closed) return "closed";
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for the proxy");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Resolves true when the proxy closes the connection within `timeoutMs`. */
  async closedByPeer(timeoutMs = 3000): Promise<boolean> {
    try {
      return (await this.next(timeoutMs)) === "closed";
    } catch {
      return false;
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** A finished exchange: every reply packet (plaintext bodies) and whether the proxy then closed. */
export interface Exchange<T> {
  replies: Packet[];
  last: T;
  closedAfter: boolean;
}

function header(type: PacketType, version: number, seqNo: number, sessionId: number, key?: Uint8Array): Omit<PacketHeader, "length"> {
  return { version, type, seqNo, flags: key ? 0 : Flags.Unencrypted, sessionId };
}

/**
 * Runs one session on a fresh connection: sends `first`, then for each reply asks `next` for the
 * following body (undefined: the session is over). Returns the replies and whether the proxy closed.
 */
async function session<T>(
  options: LegacyClientOptions,
  type: PacketType,
  version: number,
  first: Uint8Array,
  decode: (body: Uint8Array) => T,
  next: (reply: T) => Uint8Array | undefined = () => undefined,
): Promise<Exchange<T>> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const connection = await LegacyConnection.open(options.endpoint, timeoutMs);
  try {
    const sessionId = newSessionId();
    const replies: Packet[] = [];
    let body: Uint8Array | undefined = first;
    let seqNo = 1;
    let last: T | undefined;
    while (body) {
      connection.write(encodePacket(header(type, version, seqNo, sessionId, options.key), body, options.key));
      const frame = await connection.next(timeoutMs);
      if (frame === "closed") throw new Error(`proxy closed without a reply to seq_no ${seqNo}`);
      const packet = decodePacket(frame, options.key);
      replies.push(packet);
      last = decode(packet.body);
      seqNo = packet.header.seqNo + 1;
      body = next(last);
    }
    return { replies, last: last as T, closedAfter: await connection.closedByPeer(timeoutMs) };
  } finally {
    connection.close();
  }
}

/** pam_tacplus `login=pap`: one START carrying the password (§5.4.2.2, version 0xc1). */
export function papLogin(options: LegacyClientOptions, user: string, password: string): Promise<Exchange<AuthenReply>> {
  const start = encodeAuthenStart({
    action: AuthenAction.Login,
    privLvl: 1,
    authenType: AuthenType.Pap,
    service: AuthenService.Login,
    user,
    port: "tty1",
    remAddr: "127.0.0.1",
    data: text.encode(password),
  });
  const version = minorVersionFor(AuthenAction.Login, AuthenType.Pap);
  return session(options, PacketType.Authentication, version, start, decodeAuthenReply);
}

/**
 * pam_tacplus `login=login`: ASCII START with the user, then answers GETUSER/GETPASS with CONTINUE.
 * `userInStart: false` leaves the START's user empty, as login prompts on network devices do.
 */
export function asciiLogin(options: LegacyClientOptions, user: string, password: string, userInStart = true): Promise<Exchange<AuthenReply>> {
  const start = encodeAuthenStart({
    action: AuthenAction.Login,
    privLvl: 1,
    authenType: AuthenType.Ascii,
    service: AuthenService.Login,
    user: userInStart ? user : "",
    port: "tty1",
    remAddr: "127.0.0.1",
    data: new Uint8Array(0),
  });
  const answer = (reply: AuthenReply): Uint8Array | undefined => {
    const userMsg = reply.status === AuthenStatus.GetUser ? user : reply.status === AuthenStatus.GetPass ? password : undefined;
    if (userMsg === undefined) return undefined;
    return encodeAuthenContinue({ flags: 0, userMsg: text.encode(userMsg), data: new Uint8Array(0) });
  };
  return session(options, PacketType.Authentication, VERSION_DEFAULT, start, decodeAuthenReply, answer);
}

/** pam_tacplus account phase: authorization with service/protocol/cmd arguments. */
export function authorize(options: LegacyClientOptions, user: string, args: Arg[]): Promise<Exchange<AuthorReply>> {
  const request = encodeAuthorRequest({
    authenMethod: AuthenMethod.TacacsPlus,
    privLvl: 1,
    authenType: AuthenType.Ascii,
    authenService: AuthenService.Login,
    user,
    port: "tty1",
    remAddr: "127.0.0.1",
    args,
  });
  return session(options, PacketType.Authorization, VERSION_DEFAULT, request, decodeAuthorReply);
}

/** pam_tacplus session phase and audisp-tacplus: accounting START/STOP with task_id. */
export function account(options: LegacyClientOptions, user: string, flags: number, args: Arg[]): Promise<Exchange<AcctReply>> {
  const request = encodeAcctRequest({
    flags,
    authenMethod: AuthenMethod.TacacsPlus,
    privLvl: 1,
    authenType: AuthenType.Ascii,
    authenService: AuthenService.Login,
    user,
    port: "tty1",
    remAddr: "127.0.0.1",
    args,
  });
  return session(options, PacketType.Accounting, VERSION_DEFAULT, request, decodeAcctReply);
}

export const arg = (name: string, value: string): Arg => ({ name, value, mandatory: true });
