/**
 * A scriptable TLS 1.3 external-PSK server for unit tests of the PSK client: it parses and checks
 * the ClientHello (binder included), and builds ServerHello, HelloRetryRequest,
 * EncryptedExtensions, Finished and post-handshake messages, each of which a test may distort.
 * Built on the client's own key schedule, so the interop tests against OpenSSL and GnuTLS, not
 * this file, prove wire compatibility.
 */
import type { Socket } from "bun";
import { timingSafeEqual } from "node:crypto";
import type { TlsGroup } from "../../src/transport/types";
import { TLS_AES_128_GCM_SHA256, type CipherSuite } from "../../src/transport/psk/cipher-suites";
import { generateKeyShare, GROUP_CODE, groupByCode, type KeyShare } from "../../src/transport/psk/key-exchange";
import {
  deriveSecret,
  digest,
  earlySecret,
  externalBinderKey,
  finishedMac,
  handshakeSecret,
  masterSecret,
  nextTrafficSecret,
} from "../../src/transport/psk/key-schedule";
import { EXTENSION, HANDSHAKE, encodeHandshake, parseExtensions, type HandshakeMessage } from "../../src/transport/psk/messages";
import { CONTENT, RecordLayer, type Record } from "../../src/transport/psk/record-layer";
import { ByteReader, ByteWriter, concatBytes } from "../../src/transport/psk/wire";

export const HRR_RANDOM = new Uint8Array(Buffer.from("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c", "hex"));

export interface ParsedClientHello {
  raw: Uint8Array;
  random: Uint8Array;
  sessionId: Uint8Array;
  suites: number[];
  /** Extension types in wire order. */
  order: number[];
  extensions: Map<number, Uint8Array>;
  identities: Uint8Array[];
  binders: Uint8Array[];
  /** The ClientHello without its binders list (what the binder covers). */
  truncated: Uint8Array;
  keyShares: Map<number, Uint8Array>;
  groups: number[];
  modes: number[];
}

export function parseClientHello(raw: Uint8Array): ParsedClientHello {
  const outer = new ByteReader(raw, "ClientHello");
  if (outer.u8() !== HANDSHAKE.client_hello) throw new Error("not a ClientHello");
  const reader = new ByteReader(outer.vector(3), "ClientHello");
  reader.u16();
  const random = reader.bytes(32);
  const sessionId = reader.vector(1);
  const suiteReader = new ByteReader(reader.vector(2), "cipher_suites");
  const suites: number[] = [];
  while (suiteReader.remaining) suites.push(suiteReader.u16());
  reader.vector(1);
  const extensionBytes = reader.vector(2);
  const order: number[] = [];
  const listReader = new ByteReader(extensionBytes, "extensions");
  while (listReader.remaining) {
    order.push(listReader.u16());
    listReader.vector(2);
  }
  const extensions = parseExtensions(extensionBytes, "ClientHello");
  const psk = new ByteReader(extensions.get(EXTENSION.pre_shared_key) ?? new Uint8Array(0), "pre_shared_key");
  const identityReader = new ByteReader(psk.vector(2), "identities");
  const identities: Uint8Array[] = [];
  while (identityReader.remaining) {
    identities.push(identityReader.vector(2));
    identityReader.bytes(4);
  }
  const binderList = psk.vector(2);
  const binderReader = new ByteReader(binderList, "binders");
  const binders: Uint8Array[] = [];
  while (binderReader.remaining) binders.push(binderReader.vector(1));
  const keyShares = new Map<number, Uint8Array>();
  const shareData = extensions.get(EXTENSION.key_share);
  if (shareData) {
    const shares = new ByteReader(new ByteReader(shareData, "key_share").vector(2), "key_share");
    while (shares.remaining) keyShares.set(shares.u16(), shares.vector(2));
  }
  const groups: number[] = [];
  const groupData = extensions.get(EXTENSION.supported_groups);
  if (groupData) {
    const groupReader = new ByteReader(new ByteReader(groupData, "supported_groups").vector(2), "supported_groups");
    while (groupReader.remaining) groups.push(groupReader.u16());
  }
  const modes = [...new ByteReader(extensions.get(EXTENSION.psk_key_exchange_modes) ?? Uint8Array.of(0), "modes").vector(1)];
  return {
    raw,
    random,
    sessionId,
    suites,
    order,
    extensions,
    identities,
    binders,
    truncated: raw.subarray(0, raw.length - binderList.length - 2),
    keyShares,
    groups,
    modes,
  };
}

export interface FakeServerOptions {
  key: Uint8Array;
  suite?: CipherSuite;
}

/** ServerHello fields a test may distort; `null` leaves the extension out. */
export interface ServerHelloOverrides {
  sessionIdEcho?: Uint8Array;
  cipherSuite?: number;
  selectedIdentity?: number | null;
  keyShareGroup?: TlsGroup | null;
  extraExtension?: number;
  /** The version in supported_versions (0x0304 unless given). */
  supportedVersion?: number;
}

export class FakePskServer {
  readonly suite: CipherSuite;
  transcript: Uint8Array[] = [];
  hello: ParsedClientHello | undefined;
  #share: KeyShare | undefined;
  #handshakeSecret: Uint8Array | undefined;
  clientHandshakeSecret: Uint8Array = new Uint8Array(0);
  serverHandshakeSecret: Uint8Array = new Uint8Array(0);
  clientAppSecret: Uint8Array = new Uint8Array(0);
  serverAppSecret: Uint8Array = new Uint8Array(0);
  /** The server's record layer: writes with server keys, reads with client keys. */
  readonly records = new RecordLayer();

  constructor(private readonly options: FakeServerOptions) {
    this.suite = options.suite ?? TLS_AES_128_GCM_SHA256;
  }

  /** Records the ClientHello and checks its binder over `prefix` (after a HRR) plus the truncated hello. */
  receiveClientHello(raw: Uint8Array): ParsedClientHello {
    const hello = parseClientHello(raw);
    const binderKey = externalBinderKey("sha256", earlySecret("sha256", this.options.key));
    const expected = finishedMac("sha256", binderKey, digest("sha256", ...this.transcript, hello.truncated));
    const binder = hello.binders[0] ?? new Uint8Array(0);
    if (binder.length !== expected.length || !timingSafeEqual(binder, expected)) throw new Error("binder does not verify");
    this.transcript.push(raw);
    this.hello = hello;
    return hello;
  }

  helloRetryRequest(group: TlsGroup | undefined, cookie?: Uint8Array): Uint8Array {
    const hello = this.#requireHello();
    const extensions = new ByteWriter().u16(EXTENSION.supported_versions).vector(2, Uint8Array.of(3, 4));
    if (group) extensions.u16(EXTENSION.key_share).vector(2, new ByteWriter().u16(GROUP_CODE[group]).finish());
    if (cookie) extensions.u16(EXTENSION.cookie).vector(2, new ByteWriter().vector(2, cookie).finish());
    const message = this.#serverHelloMessage(HRR_RANDOM, hello.sessionId, this.suite.code, extensions.finish());
    const firstHello = this.transcript[this.transcript.length - 1]!;
    this.transcript = [encodeHandshake(HANDSHAKE.message_hash, digest(this.suite.hash, firstHello)), message];
    return message;
  }

  serverHello(overrides: ServerHelloOverrides = {}): Uint8Array {
    const hello = this.#requireHello();
    const extensions = new ByteWriter().u16(EXTENSION.supported_versions).vector(2, new ByteWriter().u16(overrides.supportedVersion ?? 0x0304).finish());
    let shared: Uint8Array | undefined;
    const [offeredCode, offeredKey] = [...hello.keyShares][0] ?? [];
    const group = overrides.keyShareGroup === undefined ? groupByCode(offeredCode ?? -1) : overrides.keyShareGroup;
    if (group) {
      this.#share = generateKeyShare(group);
      if (offeredKey && GROUP_CODE[group] === offeredCode) shared = this.#share.agree(offeredKey);
      const share = new ByteWriter().u16(GROUP_CODE[group]).vector(2, this.#share.publicKey).finish();
      extensions.u16(EXTENSION.key_share).vector(2, share);
    }
    if (overrides.selectedIdentity !== null) {
      extensions.u16(EXTENSION.pre_shared_key).vector(2, new ByteWriter().u16(overrides.selectedIdentity ?? 0).finish());
    }
    if (overrides.extraExtension !== undefined) extensions.u16(overrides.extraExtension).vector(2, new Uint8Array(0));
    const random = new Uint8Array(32).fill(7);
    const message = this.#serverHelloMessage(
      random,
      overrides.sessionIdEcho ?? hello.sessionId,
      overrides.cipherSuite ?? this.suite.code,
      extensions.finish(),
    );
    this.transcript.push(message);
    const hash = this.suite.hash;
    this.#handshakeSecret = handshakeSecret(hash, earlySecret(hash, this.options.key), shared);
    const th = digest(hash, ...this.transcript);
    this.clientHandshakeSecret = deriveSecret(hash, this.#handshakeSecret, "c hs traffic", th);
    this.serverHandshakeSecret = deriveSecret(hash, this.#handshakeSecret, "s hs traffic", th);
    return message;
  }

  encryptedExtensions(extensions: Uint8Array = new Uint8Array(0)): Uint8Array {
    const message = encodeHandshake(HANDSHAKE.encrypted_extensions, new ByteWriter().vector(2, extensions).finish());
    this.transcript.push(message);
    return message;
  }

  /** The server Finished; `corrupt` flips a bit of verify_data. Also derives the application secrets. */
  finished(corrupt = false): Uint8Array {
    const hash = this.suite.hash;
    const verify = finishedMac(hash, this.serverHandshakeSecret, digest(hash, ...this.transcript));
    if (corrupt) verify[0]! ^= 1;
    const message = encodeHandshake(HANDSHAKE.finished, verify);
    this.transcript.push(message);
    const th = digest(hash, ...this.transcript);
    const master = masterSecret(hash, this.#handshakeSecret!);
    this.clientAppSecret = deriveSecret(hash, master, "c ap traffic", th);
    this.serverAppSecret = deriveSecret(hash, master, "s ap traffic", th);
    return message;
  }

  /** Checks the client's Finished message. */
  verifyClientFinished(message: HandshakeMessage): boolean {
    const hash = this.suite.hash;
    const expected = finishedMac(hash, this.clientHandshakeSecret, digest(hash, ...this.transcript));
    return message.type === HANDSHAKE.finished && Buffer.from(message.body).equals(expected);
  }

  keyUpdate(requested: boolean): Uint8Array {
    return encodeHandshake(HANDSHAKE.key_update, Uint8Array.of(requested ? 1 : 0));
  }

  /** `count` KeyUpdate records, each protected under the key the previous one announced. */
  keyUpdates(count: number, requested: boolean): Uint8Array {
    const records: Uint8Array[] = [];
    for (let index = 0; index < count; index++) {
      records.push(this.records.encode(CONTENT.handshake, this.keyUpdate(requested)));
      this.ratchetServer();
      this.records.setWriteKeys(this.suite, this.serverAppSecret);
    }
    return concatBytes(records);
  }

  /** KeyUpdates received from the client (after the handshake), with their request_update. */
  readonly clientKeyUpdates: boolean[] = [];

  /**
   * Opens the client's records as they come: after its Finished the client's application key
   * applies, after each of its KeyUpdates the next one.
   */
  receive(bytes: Uint8Array): Record[] {
    this.records.push(bytes);
    const out: Record[] = [];
    for (let record = this.records.next(); record; record = this.records.next()) {
      out.push(record);
      if (record.type === CONTENT.handshake && record.fragment[0] === HANDSHAKE.finished) {
        this.records.setReadKeys(this.suite, this.clientAppSecret);
      } else if (record.type === CONTENT.handshake && record.fragment[0] === HANDSHAKE.key_update) {
        this.clientKeyUpdates.push(record.fragment[4] === 1);
        this.ratchetClient();
        this.records.setReadKeys(this.suite, this.clientAppSecret);
      }
    }
    return out;
  }

  ratchetServer(): void {
    this.serverAppSecret = nextTrafficSecret(this.suite.hash, this.serverAppSecret);
  }

  ratchetClient(): void {
    this.clientAppSecret = nextTrafficSecret(this.suite.hash, this.clientAppSecret);
  }

  /** Record-level: the whole server flight after a ClientHello, as bytes on the wire. */
  flight(serverHello = this.serverHello()): Uint8Array {
    const hello = this.records.encode(CONTENT.handshake, serverHello); // still unprotected
    this.records.setWriteKeys(this.suite, this.serverHandshakeSecret);
    this.records.setReadKeys(this.suite, this.clientHandshakeSecret);
    const encrypted = this.records.encode(CONTENT.handshake, concatBytes([this.encryptedExtensions(), this.finished()]));
    return concatBytes([hello, RecordLayer.changeCipherSpec(), encrypted]);
  }

  #requireHello(): ParsedClientHello {
    if (!this.hello) throw new Error("no ClientHello received yet");
    return this.hello;
  }

  #serverHelloMessage(random: Uint8Array, sessionId: Uint8Array, suite: number, extensions: Uint8Array): Uint8Array {
    const body = new ByteWriter().u16(0x0303).bytes(random).vector(1, sessionId).u16(suite).u8(0).vector(2, extensions).finish();
    return encodeHandshake(HANDSHAKE.server_hello, body);
  }
}

/** Splits handshake bytes into messages (test convenience). */
export function messagesOf(bytes: Uint8Array): HandshakeMessage[] {
  const out: HandshakeMessage[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const length = (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    const raw = bytes.slice(offset, offset + 4 + length);
    out.push({ type: raw[0]!, body: raw.subarray(4), raw });
    offset += 4 + length;
  }
  return out;
}

/** What a `startPskFront` server does wrong once the handshake is done. */
export type FrontMisbehaviour =
  | { kind: "none" }
  /** `count` KeyUpdates in one write (each under the key the previous one announced). */
  | { kind: "key-update-flood"; count: number; requested: boolean }
  /** Answers the first application data with an unprotected close_notify alert. */
  | { kind: "plaintext-close-notify" }
  /** Unprotected records sent just before the server's flight (e.g. 33 change_cipher_spec). */
  | { kind: "before-flight"; records: Uint8Array }
  /** A distorted ServerHello. */
  | { kind: "server-hello"; overrides: ServerHelloOverrides };

/** What one client connection did, as the front saw it. */
export interface FrontConnection {
  established: boolean;
  /** The client's KeyUpdates after the handshake (true: update_requested). */
  clientKeyUpdates: boolean[];
  /** Alert descriptions the client sent. */
  clientAlerts: number[];
  /** Set once the whole flood was handed to the socket. */
  floodWritten: boolean;
  closed: boolean;
  error?: string;
}

export interface PskFront {
  port: number;
  connections: FrontConnection[];
  stop(): void;
}

/**
 * The scripted server on loopback TCP: terminates TLS 1.3 PSK for the agent and relays the
 * application data to a plain TACACS+ server (`backendPort`), misbehaving as told.
 */
export function startPskFront(options: { key: Uint8Array; backendPort: number; misbehave: FrontMisbehaviour }): PskFront {
  const connections: FrontConnection[] = [];
  interface State {
    server: FakePskServer;
    info: FrontConnection;
    pending: Uint8Array[];
    backend?: Promise<Socket<undefined>>;
  }
  const flush = (socket: Socket<State>): void => {
    const state = socket.data;
    while (state.pending.length > 0) {
      const next = state.pending[0]!;
      const written = socket.write(next);
      if (written < next.length) {
        state.pending[0] = next.subarray(Math.max(written, 0));
        return;
      }
      state.pending.shift();
    }
  };
  const send = (socket: Socket<State>, bytes: Uint8Array): void => {
    socket.data.pending.push(bytes);
    if (socket.data.pending.length === 1) flush(socket);
  };
  const onEstablished = (socket: Socket<State>): void => {
    const { server, info } = socket.data;
    server.records.setWriteKeys(server.suite, server.serverAppSecret);
    info.established = true;
    socket.data.backend = Bun.connect<undefined>({
      hostname: "127.0.0.1",
      port: options.backendPort,
      socket: {
        data: (_, chunk) => {
          if (!info.closed) send(socket, server.records.encode(CONTENT.application_data, new Uint8Array(chunk)));
        },
        close: () => {
          socket.end();
        },
      },
    });
    const misbehave = options.misbehave;
    if (misbehave.kind === "key-update-flood") {
      send(socket, server.keyUpdates(misbehave.count, misbehave.requested));
      info.floodWritten = true;
    }
  };
  const onData = (socket: Socket<State>, chunk: Uint8Array): void => {
    const { server, info } = socket.data;
    // A client that failed before it had keys alerts in plaintext, although our read keys are set.
    if (!info.established && chunk[0] === CONTENT.alert && chunk.length === 7) {
      info.clientAlerts.push(chunk[6]!);
      return void socket.end();
    }
    for (const record of server.receive(chunk)) {
      if (record.type === CONTENT.alert) {
        info.clientAlerts.push(record.fragment[1]!);
        socket.end();
      } else if (record.type === CONTENT.handshake && !server.hello) {
        server.receiveClientHello(record.fragment);
        const misbehave = options.misbehave;
        if (misbehave.kind === "before-flight") send(socket, misbehave.records);
        send(socket, server.flight(server.serverHello(misbehave.kind === "server-hello" ? misbehave.overrides : {})));
      } else if (record.type === CONTENT.handshake && !info.established) {
        onEstablished(socket); // the client Finished
      } else if (record.type === CONTENT.handshake && record.fragment[0] === HANDSHAKE.key_update && record.fragment[4] === 1) {
        send(socket, server.keyUpdates(1, false)); // §4.6.3: the client asked us to update
      } else if (record.type === CONTENT.application_data) {
        if (options.misbehave.kind === "plaintext-close-notify") {
          send(socket, new RecordLayer().encode(CONTENT.alert, Uint8Array.of(1, 0)));
        } else {
          const data = record.fragment.slice();
          void socket.data.backend?.then((backend) => backend.write(data));
        }
      }
    }
  };
  const listener = Bun.listen<State>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        const info: FrontConnection = { established: false, clientKeyUpdates: [], clientAlerts: [], floodWritten: false, closed: false };
        const server = new FakePskServer({ key: options.key });
        // The connection's record of client KeyUpdates is the scripted server's own list.
        info.clientKeyUpdates = server.clientKeyUpdates;
        connections.push(info);
        socket.data = { server, info, pending: [] };
      },
      data(socket, chunk) {
        try {
          onData(socket, new Uint8Array(chunk));
        } catch (error) {
          socket.data.info.error = (error as Error).message;
          socket.end();
        }
      },
      drain: (socket) => flush(socket),
      close(socket) {
        socket.data.info.closed = true;
        void socket.data.backend?.then((backend) => backend.end());
      },
      error: () => {},
    },
  });
  return { port: listener.port, connections, stop: () => listener.stop(true) };
}
