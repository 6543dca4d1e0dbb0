/**
 * A minimal HTTP/1.1 server for `GET /metrics` (RFC 9112), on a loopback TCP port or a Unix
 * socket bound through common/local-socket. One request per connection (`Connection: close`):
 * a scrape every few seconds needs no keep-alive. Bounded: its own connection limit, a request
 * head of at most MAX_REQUEST_BYTES, an idle timeout; the body is rendered only when asked for.
 */
import type { Socket, SocketListener } from "bun";
import type { Endpoint } from "../common/endpoint";
import { listenLocal, type BoundEndpoint, type ListenTarget, type LocalListener } from "../common/local-socket";
import type { Logger } from "../common/log";
import { CONTENT_TYPE, formatFor, renderMetrics } from "./render";
import type { Registry } from "./registry";

/** Scrapers hold one connection each; a handful covers Prometheus, an agent and a curl. */
export const MAX_METRICS_CONNECTIONS = 8;
/** A scrape request head is a few hundred bytes. */
export const MAX_REQUEST_BYTES = 8192;
export const METRICS_IDLE_TIMEOUT_SECONDS = 10;

/** What the endpoint itself counts (exported with the other metrics). */
export interface EndpointCounts {
  scrapes: number;
  /** Answers other than 200: 400, 404, 405, 431. */
  rejected: number;
  refusedConnections: number;
}

interface Pending {
  head: string;
  /** Response bytes the kernel has not taken yet; the connection ends once they are written. */
  unsent?: Uint8Array;
}

interface Response {
  status: number;
  reason: string;
  headers?: Record<string, string>;
  body?: string;
}

function plain(status: number, reason: string, headers: Record<string, string> = {}): Response {
  return { status, reason, headers: { "content-type": "text/plain; charset=utf-8", ...headers }, body: `${reason}\n` };
}

function serialize(response: Response, withBody: boolean): Uint8Array {
  const body = new TextEncoder().encode(response.body ?? "");
  const headers = { ...response.headers, "content-length": String(body.length), connection: "close" };
  const head = `HTTP/1.1 ${response.status} ${response.reason}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;
  const headBytes = new TextEncoder().encode(head);
  if (!withBody) return headBytes;
  const out = new Uint8Array(headBytes.length + body.length);
  out.set(headBytes);
  out.set(body, headBytes.length);
  return out;
}

/** Answers one request head (without the blank line). Pure: the registry is read only for a 200. */
export function answer(head: string, registry: Registry, counts: EndpointCounts): { response: Response; method: string } {
  const [requestLine = "", ...headerLines] = head.split("\r\n");
  const match = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(requestLine);
  const reject = (response: Response, method = "") => {
    counts.rejected += 1;
    return { response, method };
  };
  if (!match) return reject(plain(400, "Bad Request"));
  const [, method = "", target = ""] = match;
  const path = target.split("?")[0];
  if (path !== "/metrics") return reject(plain(404, "Not Found"), method);
  if (method !== "GET" && method !== "HEAD") return reject(plain(405, "Method Not Allowed", { allow: "GET, HEAD" }), method);
  const accept = headerLines.find((line) => /^accept:/i.test(line))?.slice("accept:".length).trim();
  const format = formatFor(accept);
  counts.scrapes += 1;
  return { response: { status: 200, reason: "OK", headers: { "content-type": CONTENT_TYPE[format] }, body: renderMetrics(registry.families(), format) }, method };
}

class MetricsListener implements LocalListener {
  #listener: SocketListener<Pending> | undefined;
  #open = 0;

  constructor(
    readonly registry: Registry,
    readonly counts: EndpointCounts,
    readonly log: Logger,
  ) {}

  get port(): number | undefined {
    return (this.#listener as { port?: number } | undefined)?.port;
  }

  async listen(target: ListenTarget): Promise<void> {
    const handlers = {
      open: (socket: Socket<Pending>) => this.#opened(socket),
      data: (socket: Socket<Pending>, chunk: Uint8Array) => this.#data(socket, chunk),
      drain: (socket: Socket<Pending>) => this.#flush(socket),
      close: () => void (this.#open -= 1),
      timeout: (socket: Socket<Pending>) => socket.terminate(),
      error: (_socket: Socket<Pending>, error: Error) => this.log.debug(`metrics: connection error: ${error.message}`),
    };
    this.#listener =
      "path" in target
        ? Bun.listen<Pending>({ unix: target.path, socket: handlers, data: { head: "" } })
        : Bun.listen<Pending>({ hostname: target.host, port: target.port, socket: handlers, data: { head: "" } });
  }

  close(): void {
    this.#listener?.stop(true);
  }

  #opened(socket: Socket<Pending>): void {
    this.#open += 1;
    if (this.#open > MAX_METRICS_CONNECTIONS) {
      this.counts.refusedConnections += 1;
      socket.terminate();
      return;
    }
    socket.data = { head: "" };
    socket.timeout(METRICS_IDLE_TIMEOUT_SECONDS);
  }

  #data(socket: Socket<Pending>, chunk: Uint8Array): void {
    const pending = socket.data;
    if (pending.unsent) return; // one request per connection: anything after it is ignored
    pending.head += new TextDecoder().decode(chunk);
    const end = pending.head.indexOf("\r\n\r\n");
    if (end < 0) {
      if (pending.head.length > MAX_REQUEST_BYTES) this.#respond(socket, plain(431, "Request Header Fields Too Large"), true, true);
      return;
    }
    if (end > MAX_REQUEST_BYTES) return this.#respond(socket, plain(431, "Request Header Fields Too Large"), true, true);
    const { response, method } = answer(pending.head.slice(0, end), this.registry, this.counts);
    this.#respond(socket, response, method !== "HEAD", false);
  }

  #respond(socket: Socket<Pending>, response: Response, withBody: boolean, rejected: boolean): void {
    if (rejected) this.counts.rejected += 1;
    socket.data.unsent = serialize(response, withBody);
    this.#flush(socket);
  }

  #flush(socket: Socket<Pending>): void {
    const unsent = socket.data.unsent;
    if (!unsent || unsent.length === 0) return;
    const written = socket.write(unsent);
    if (written < unsent.length) {
      socket.data.unsent = unsent.subarray(Math.max(0, written));
      return;
    }
    socket.data.unsent = new Uint8Array(0);
    socket.end();
  }
}

export interface MetricsServer {
  readonly endpoint: Endpoint;
  close(): void;
}

/** Binds the endpoint (loopback TCP only, or a Unix socket with `socketMode`); throws LocalSocketError. */
export async function startMetricsServer(options: { endpoint: Endpoint; socketMode: number; registry: Registry; counts: EndpointCounts; log: Logger }): Promise<MetricsServer> {
  const listener = new MetricsListener(options.registry, options.counts, options.log);
  const bound: BoundEndpoint = await listenLocal(listener, options.endpoint, options.socketMode);
  return {
    endpoint: bound.endpoint,
    close() {
      listener.close();
      bound.release();
    },
  };
}
