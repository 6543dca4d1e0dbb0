/**
 * A loopback TCP relay in front of the test server's TLS listener that hands the client's TLS
 * records over one at a time, so that each record reaches the server's data handler as its own
 * event. This is how tac_plus-ng reads (one SSL_read, at most one record, per readable event);
 * Bun's TLS server instead hands several back-to-back records to a single data event, which would
 * make a correct client (one packet per record) look like one that coalesces packets.
 *
 * An encrypted record (content type 23: application data, and in TLS 1.3 also the client's
 * Finished) is followed by the next one only after the server reports the handshake done or a
 * data event on that connection, or after FALLBACK_MS for records that produce neither.
 * Handshake and alert records pass at once (RFC 8446 §5.1).
 */
import type { Socket, TCPSocketListener } from "bun";

const RECORD_HEADER = 5;
const APPLICATION_DATA = 23;
const FALLBACK_MS = 20;

export interface RecordPacer {
  readonly port: number;
  /** The TLS server finished a handshake on the connection coming from `relayPort`. */
  opened(relayPort: number): void;
  /** The TLS server had a data event on the connection coming from `relayPort`. */
  consumed(relayPort: number): void;
  /** Stops or resumes accepting clients (the refuse fault); open relays keep working. */
  setListening(on: boolean): void;
  stop(): void;
}

/** Bytes for one socket, kept in order across back-pressure (Bun takes less than offered when full). */
class Outbox {
  #pending: Uint8Array[] = [];
  #socket: Socket<unknown> | undefined;
  #endWhenFlushed = false;

  attach(socket: Socket<unknown>): void {
    this.#socket = socket;
    this.flush();
  }

  write(bytes: Uint8Array): void {
    this.#pending.push(bytes);
    if (this.#pending.length === 1) this.flush();
  }

  /** Writes what the socket takes; called again on drain. */
  flush(): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    while (this.#pending.length > 0) {
      const bytes = this.#pending[0]!;
      const written = socket.write(bytes);
      if (written < bytes.length) {
        this.#pending[0] = bytes.subarray(Math.max(written, 0));
        return;
      }
      this.#pending.shift();
    }
    if (this.#endWhenFlushed) socket.end();
  }

  end(): void {
    this.#endWhenFlushed = true;
    this.flush();
  }
}

/** One client connection and its relay connection to the TLS listener. */
interface Relay {
  client: Socket<Relay>;
  upstream: Socket<unknown> | undefined;
  toServer: Outbox;
  toClient: Outbox;
  /** Client bytes not yet split into whole records. */
  partial: Uint8Array;
  records: Uint8Array[];
  /** An encrypted record was handed over and its data event has not been seen yet. */
  waiting: boolean;
  fallback: ReturnType<typeof setTimeout> | undefined;
  closed: boolean;
}

export function startRecordPacer(host: string, port: number, targetPort: number): RecordPacer {
  const byRelayPort = new Map<number, Relay>();
  const relays = new Set<Relay>();

  function pump(relay: Relay): void {
    while (!relay.waiting && relay.records.length > 0 && !relay.closed) {
      const record = relay.records.shift()!;
      relay.toServer.write(record);
      if (record[0] === APPLICATION_DATA) {
        relay.waiting = true;
        relay.fallback = setTimeout(() => release(relay), FALLBACK_MS);
      }
    }
  }

  function release(relay: Relay | undefined): void {
    if (relay === undefined || !relay.waiting) return;
    clearTimeout(relay.fallback);
    relay.waiting = false;
    pump(relay);
  }

  function split(relay: Relay, chunk: Uint8Array): void {
    let bytes = relay.partial.length === 0 ? chunk : Buffer.concat([relay.partial, chunk]);
    while (bytes.length >= RECORD_HEADER) {
      const length = RECORD_HEADER + ((bytes[3]! << 8) | bytes[4]!);
      if (bytes.length < length) break;
      relay.records.push(bytes.subarray(0, length));
      bytes = bytes.subarray(length);
    }
    relay.partial = bytes;
  }

  function close(relay: Relay, reset: boolean): void {
    if (relay.closed) return;
    relay.closed = true;
    clearTimeout(relay.fallback);
    relays.delete(relay);
    if (relay.upstream !== undefined) byRelayPort.delete(relay.upstream.localPort);
    if (reset) {
      relay.client.terminate();
      relay.upstream?.terminate();
    } else {
      relay.toClient.end();
      relay.toServer.end();
    }
  }

  function connectUpstream(relay: Relay): void {
    Bun.connect({
      hostname: host,
      port: targetPort,
      socket: {
        binaryType: "uint8array",
        open(upstream) {
          relay.upstream = upstream;
          byRelayPort.set(upstream.localPort, relay);
          relay.toServer.attach(upstream);
          pump(relay);
        },
        data: (_s, chunk) => relay.toClient.write(chunk),
        drain: () => relay.toServer.flush(),
        close: (_s, error) => close(relay, error !== undefined),
        error: () => close(relay, true),
        connectError: () => close(relay, true),
      },
    }).catch(() => close(relay, true));
  }

  function listen(onPort: number): TCPSocketListener<Relay> {
    return Bun.listen<Relay>({
      hostname: host,
      port: onPort,
      socket: {
        binaryType: "uint8array",
        open(client) {
          const relay: Relay = {
            client,
            upstream: undefined,
            toServer: new Outbox(),
            toClient: new Outbox(),
            partial: new Uint8Array(0),
            records: [],
            waiting: false,
            fallback: undefined,
            closed: false,
          };
          client.data = relay;
          relay.toClient.attach(client as Socket<unknown>);
          relays.add(relay);
          connectUpstream(relay);
        },
        data(client, chunk) {
          split(client.data, chunk);
          pump(client.data);
        },
        drain: (client) => client.data.toClient.flush(),
        close: (client, error) => close(client.data, error !== undefined),
        error: (client) => close(client.data, true),
      },
    });
  }

  let listener: TCPSocketListener<Relay> | undefined = listen(port);
  const boundPort = listener.port;

  return {
    port: boundPort,
    opened: (relayPort) => release(byRelayPort.get(relayPort)),
    consumed: (relayPort) => release(byRelayPort.get(relayPort)),
    setListening(on) {
      if (!on && listener !== undefined) {
        listener.stop(false);
        listener = undefined;
      } else if (on && listener === undefined) {
        listener = listen(boundPort);
      }
    },
    stop() {
      listener?.stop(true);
      listener = undefined;
      for (const relay of relays) close(relay, true);
    },
  };
}
