/**
 * One TLS 1.3 PSK client connection without I/O: bytes from the server go into `receive`,
 * bytes for the server come out through `sink.send`. It drives the handshake state machine,
 * the record layer, alerts both ways (RFC 8446 §6) and close_notify.
 */
import { ALERT, PeerAlert, TlsFailure, encodeAlert } from "./alerts";
import { pskCounters } from "./counters";
import {
  defaultDeps,
  discardReplacedSecrets,
  startHandshake,
  transition,
  updateWriteKeys,
  type HandshakeAction,
  type HandshakeDeps,
  type HandshakeState,
  type PskHandshakeConfig,
  type Step,
} from "./handshake";
import { HANDSHAKE, HandshakeReassembler } from "./messages";
import { CONTENT, DEFAULT_KEY_LIMITS, RecordLayer, type KeyLimits, type Record } from "./record-layer";

/** Largest handshake message we accept; a PSK handshake has no certificates. */
const MAX_HANDSHAKE_MESSAGE = 64 * 1024;
/** Empty records (change_cipher_spec included) in a row before we give up, as BoringSSL does. */
export const MAX_EMPTY_RECORDS = 32;
/** KeyUpdates without application data in between before we give up (BoringSSL's cap, §4.6.3). */
export const MAX_KEY_UPDATES_IN_A_ROW = 32;

export interface EstablishedInfo {
  suite: string;
  keyExchange: "psk-dhe" | "psk-only";
  group?: string;
}

export interface SessionSink {
  /** Bytes for the server, one or more whole records. */
  send(bytes: Uint8Array): void;
  onEstablished(info: EstablishedInfo): void;
  onData(data: Uint8Array): void;
  /** The session is over; the transport must close. `error` unless it ended by close_notify. */
  onEnd(error?: Error): void;
}

export class PskClientSession {
  #state: HandshakeState | undefined;
  readonly #records: RecordLayer;
  readonly #handshake = new HandshakeReassembler();
  #ended = false;
  #emptyRecords = 0;
  #keyUpdatesInARow = 0;
  /** The server asked for our KeyUpdate; it goes out once, after this chunk or before our next write. */
  #keyUpdateOwed = false;
  /** We asked the server to update its key and it has not yet. */
  #keyUpdateAsked = false;

  /** `config.key` becomes the session's: it is wiped once the early secret is derived. */
  constructor(
    private readonly config: PskHandshakeConfig,
    private readonly sink: SessionSink,
    private readonly deps: HandshakeDeps = defaultDeps,
    limits: KeyLimits = DEFAULT_KEY_LIMITS,
  ) {
    this.#records = new RecordLayer(limits);
  }

  get connected(): boolean {
    return this.#state?.name === "connected" && !this.#ended;
  }

  /** Sends the ClientHello. */
  start(): void {
    this.#guard(() => {
      const step = startHandshake(this.config, this.deps);
      this.#state = step.state;
      this.#perform(step.actions);
    });
    // The early secret is derived; this session no longer needs its copy of the PSK.
    this.config.key.fill(0);
  }

  receive(bytes: Uint8Array): void {
    if (this.#ended) return;
    this.#guard(() => {
      this.#records.push(bytes);
      for (let record = this.#records.next(); record && !this.#ended; record = this.#ended ? undefined : this.#records.next()) {
        this.#onRecord(record);
      }
      // One answer for all the update requests in this chunk, without waiting for our next write.
      if (this.#keyUpdateOwed && !this.#ended) this.#updateKeysIfDue();
    });
  }

  /** Protects one application write; it becomes its own record(s), never merged with another. */
  write(data: Uint8Array): void {
    if (!this.connected || data.length === 0) return;
    try {
      this.#updateKeysIfDue();
      this.sink.send(this.#records.encode(CONTENT.application_data, data));
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * §4.6.3, §5.5: one KeyUpdate when the server asked for one (however many times) or our key is
   * worn; it asks the server to update too when the server's key is worn.
   */
  #updateKeysIfDue(): void {
    const ask = !this.#keyUpdateAsked && this.#records.readKeyWornOut;
    const worn = this.#records.writeKeyWornOut;
    if (!this.#keyUpdateOwed && !ask && !worn) return;
    this.#step(updateWriteKeys(this.#state!, ask));
    pskCounters.keyUpdatesSent++;
    if (worn) pskCounters.rekeysAtRecordLimit++;
    this.#keyUpdateOwed = false;
    this.#keyUpdateAsked ||= ask;
  }

  /** Sends close_notify and ends the session. */
  close(): void {
    if (this.#ended) return;
    this.#sendAlert(ALERT.close_notify);
    this.#end();
  }

  /** The transport closed under us. */
  transportClosed(error?: Error): void {
    if (this.#ended) return;
    this.#end(error ?? new Error(this.connected ? "server closed the connection without close_notify" : "server closed the connection during the handshake"));
  }

  #onRecord(record: Record): void {
    this.#checkRecordFraming(record);
    switch (record.type) {
      case CONTENT.change_cipher_spec:
        // §5: one unprotected 0x01 byte, tolerated only during the handshake.
        if (this.connected || record.protected || record.fragment.length !== 1 || record.fragment[0] !== 1) {
          throw new TlsFailure(ALERT.unexpected_message, "unexpected change_cipher_spec record");
        }
        return;
      case CONTENT.alert:
        return this.#onAlert(record.fragment);
      case CONTENT.handshake:
        return this.#onHandshake(record.fragment);
      case CONTENT.application_data:
        if (!this.connected) throw new TlsFailure(ALERT.unexpected_message, "application data before the handshake finished");
        if (record.fragment.length > 0) {
          this.#keyUpdatesInARow = 0;
          this.sink.onData(record.fragment);
        }
        return;
      default:
        throw new TlsFailure(
          ALERT.unexpected_message,
          `server sent a record of unknown type ${record.type}${this.connected ? "" : " (is it a TLS 1.3 server?)"}`,
        );
    }
  }

  /** §5.1: no empty handshake records, no other record inside a handshake message; few empty records. */
  #checkRecordFraming(record: Record): void {
    if (record.type === CONTENT.handshake && record.fragment.length === 0) {
      throw new TlsFailure(ALERT.unexpected_message, "empty handshake record");
    }
    if (record.type !== CONTENT.handshake && this.#handshake.hasPartial) {
      throw new TlsFailure(ALERT.unexpected_message, "a record of another type inside a fragmented handshake message");
    }
    if (record.fragment.length > 0 && record.type !== CONTENT.change_cipher_spec) {
      this.#emptyRecords = 0;
    } else if (++this.#emptyRecords > MAX_EMPTY_RECORDS) {
      throw new TlsFailure(ALERT.unexpected_message, `more than ${MAX_EMPTY_RECORDS} empty or change_cipher_spec records in a row`);
    }
  }

  #onAlert(fragment: Uint8Array): void {
    if (fragment.length !== 2) throw new TlsFailure(ALERT.decode_error, "malformed alert");
    const description = fragment[1]!;
    if (description === ALERT.user_canceled) return; // a warning; close_notify follows
    if (description === ALERT.close_notify) {
      if (!this.connected) return this.#end(new Error("server closed the connection during the handshake"));
      this.#sendAlert(ALERT.close_notify);
      return this.#end();
    }
    this.#end(new PeerAlert(description));
  }

  #onHandshake(fragment: Uint8Array): void {
    const messages = this.#handshake.push(fragment, MAX_HANDSHAKE_MESSAGE);
    messages.forEach((message, index) => {
      if (this.#ended || !this.#state) return;
      if (message.type === HANDSHAKE.key_update) pskCounters.keyUpdatesReceived++;
      if (message.type === HANDSHAKE.key_update && ++this.#keyUpdatesInARow > MAX_KEY_UPDATES_IN_A_ROW) {
        throw new TlsFailure(ALERT.unexpected_message, `more than ${MAX_KEY_UPDATES_IN_A_ROW} KeyUpdates without application data in between`);
      }
      const step = transition(this.#state, message, this.config, this.deps);
      const changesReadKeys = step.actions.some((action) => action.kind === "read_keys");
      // §5.1: a key change must fall on a record boundary.
      if (changesReadKeys && (index < messages.length - 1 || this.#handshake.hasPartial)) {
        throw new TlsFailure(ALERT.unexpected_message, "handshake data follows a key change in the same record");
      }
      this.#step(step);
    });
  }

  /** Moves to the step's state, performs its actions, then wipes what the old state alone held. */
  #step(step: Step): void {
    const before = this.#state;
    this.#state = step.state;
    this.#perform(step.actions);
    discardReplacedSecrets(before, step.state);
  }

  #perform(actions: readonly HandshakeAction[]): void {
    for (const action of actions) {
      switch (action.kind) {
        case "send":
          this.sink.send(this.#records.encode(CONTENT.handshake, action.message));
          break;
        case "send_change_cipher_spec":
          this.sink.send(RecordLayer.changeCipherSpec());
          break;
        case "read_keys":
          this.#records.setReadKeys(action.suite, action.secret);
          this.#keyUpdateAsked = false;
          break;
        case "write_keys":
          this.#records.setWriteKeys(action.suite, action.secret);
          break;
        case "key_update_owed":
          this.#keyUpdateOwed = true;
          break;
        case "established":
          this.sink.onEstablished({
            suite: action.suite.name,
            keyExchange: action.keyExchange,
            ...(action.group ? { group: action.group } : {}),
          });
          break;
      }
    }
  }

  #guard(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#fail(error);
    }
  }

  #fail(error: unknown): void {
    if (error instanceof TlsFailure && this.connected) pskCounters.failuresAfterHandshake++;
    if (error instanceof TlsFailure) this.#sendAlert(error.alert);
    this.#end(error instanceof Error ? error : new Error(String(error)));
  }

  #sendAlert(alert: number): void {
    try {
      this.sink.send(this.#records.encode(CONTENT.alert, encodeAlert(alert)));
    } catch {
      // The transport is already gone; nothing more to tell the peer.
    }
  }

  #end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    discardReplacedSecrets(this.#state, undefined);
    this.#records.wipe();
    this.sink.onEnd(error);
  }
}
