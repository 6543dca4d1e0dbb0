/**
 * A lean gRPC client for load: node:http2 sessions over the agent's Unix socket (or loopback TCP),
 * pre-encoded request bodies, no protobuf work on the hot path (the reply's oneof tag tells a
 * response from a ServiceError). Calls are spread round-robin over a few sessions.
 */
import http2 from "node:http2";
import { connect as netConnect } from "node:net";
import type { Endpoint } from "../../src/common/endpoint";
import { formatEndpoint } from "../../src/common/endpoint";
import { encodeMessage } from "../../src/api/framing";
import { apiRoot } from "../../src/api/proto";

export const ACCOUNTING_PATH = "/tacacsrs.agent.v1.TacacsAgent/Accounting";
export const HEALTH_PATH = "/grpc.health.v1.Health/Check";

/** The Accounting request every benchmark sends (the same command as scenario 1's packets). */
export const ACCOUNTING_REQUEST = { user: "admin", port: "tty0", remoteAddress: "10.0.0.1", command: "show", commandArguments: ["version"] };

export function encodeRequest(typeName: string, request: object): Uint8Array {
  const type = apiRoot.lookupType(typeName);
  return encodeMessage(type.encode(type.fromObject(request)).finish());
}

export const accountingBody = (): Uint8Array => encodeRequest("tacacsrs.agent.v1.AccountingRequest", ACCOUNTING_REQUEST);
export const healthBody = (): Uint8Array => encodeRequest("grpc.health.v1.HealthCheckRequest", {});

/** One finished call: grpc-status and the reply message (without its 5-byte prefix). */
export interface CallResult {
  status: number;
  message: Uint8Array;
}

/** True when an agent reply message carries `response` (field 1), not `error` (field 2). */
export function isResponse(message: Uint8Array): boolean {
  return message[0] === 0x0a;
}

/** Decodes an AccountingReply (slow path: failover and herd checks). */
export function decodeAccountingReply(message: Uint8Array): { server?: string; error?: { message: string } } {
  const type = apiRoot.lookupType("tacacsrs.agent.v1.AccountingReply");
  const reply = type.toObject(type.decode(message)) as { response?: { server: string }; error?: { message: string } };
  return { server: reply.response?.server, error: reply.error };
}

function connectSession(endpoint: Endpoint): http2.ClientHttp2Session {
  const session =
    endpoint.kind === "unix"
      ? http2.connect("http://localhost", { createConnection: () => netConnect({ path: endpoint.path }) })
      : http2.connect(`http://${formatEndpoint(endpoint)}`);
  session.on("error", () => {});
  return session;
}

export class GrpcClient {
  readonly #sessions: http2.ClientHttp2Session[];
  #next = 0;

  constructor(endpoint: Endpoint, sessions = 1) {
    this.#sessions = Array.from({ length: sessions }, () => connectSession(endpoint));
  }

  /** Resolves once every session is connected; rejects on the first failure. */
  ready(timeoutMs = 2000): Promise<void> {
    return Promise.all(
      this.#sessions.map(
        (session) =>
          new Promise<void>((resolve, reject) => {
            if (!session.connecting && !session.destroyed) return resolve();
            const timer = setTimeout(() => reject(new Error("http2 connect timeout")), timeoutMs);
            session.once("connect", () => (clearTimeout(timer), resolve()));
            session.once("error", (error) => (clearTimeout(timer), reject(error)));
          }),
      ),
    ).then(() => {});
  }

  /** One unary call with a pre-encoded body; `done` gets the result or an Error. */
  call(path: string, body: Uint8Array, done: (result: CallResult | Error) => void): void {
    const session = this.#sessions[this.#next++ % this.#sessions.length]!;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    } catch (error) {
      done(error as Error);
      return;
    }
    const chunks: Uint8Array[] = [];
    let status = -1;
    const takeStatus = (headers: http2.IncomingHttpHeaders) => {
      const value = headers["grpc-status"];
      if (typeof value === "string") status = Number(value);
    };
    stream.on("response", takeStatus);
    stream.on("trailers", takeStatus);
    stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    stream.on("error", () => {});
    stream.on("close", () => {
      if (status < 0) return done(new Error("call closed without grpc-status"));
      const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      done({ status, message: data.subarray(5) });
    });
    stream.end(body);
  }

  callAsync(path: string, body: Uint8Array): Promise<CallResult> {
    return new Promise((resolve, reject) => this.call(path, body, (result) => (result instanceof Error ? reject(result) : resolve(result))));
  }

  close(): void {
    for (const session of this.#sessions) session.destroy();
  }
}
