/**
 * A lean gRPC client for load on src/api/h2/client-connection.ts (raw HTTP/2 on Bun.connect; see
 * there why not node:http2). No protobuf work on the hot path: the reply's oneof tag tells a
 * response from a ServiceError. Calls are spread round-robin over a few connections.
 */
import type { Endpoint } from "../../src/common/endpoint";
import { encodeMessage } from "../../src/api/framing";
import { H2ClientConnection, type CallDone, type CallResult } from "../../src/api/h2/client-connection";
import { apiType } from "../../src/api/proto";

export type { CallDone, CallResult } from "../../src/api/h2/client-connection";

export const ACCOUNTING_PATH = "/tacacsrs.agent.v1.TacacsAgent/Accounting";
export const HEALTH_PATH = "/grpc.health.v1.Health/Check";

/** The Accounting request every benchmark sends (the same command as scenario 1's packets). */
export const ACCOUNTING_REQUEST = { user: "admin", port: "tty0", remoteAddress: "10.0.0.1", command: "show", commandArguments: ["version"] };

export function encodeRequest(typeName: string, request: object): Uint8Array {
  const type = apiType(typeName);
  return encodeMessage(type.encode(type.fromObject(request)).finish());
}

export const accountingBody = (): Uint8Array => encodeRequest("tacacsrs.agent.v1.AccountingRequest", ACCOUNTING_REQUEST);
export const healthBody = (service = ""): Uint8Array => encodeRequest("grpc.health.v1.HealthCheckRequest", { service });

/** True when an agent reply message carries `response` (field 1), not `error` (field 2). */
export function isResponse(message: Uint8Array): boolean {
  return message[0] === 0x0a;
}

/** Decodes an AccountingReply (slow path: failover and herd checks). */
export function decodeAccountingReply(message: Uint8Array): { server?: string; error?: { message: string } } {
  const type = apiType("tacacsrs.agent.v1.AccountingReply");
  const reply = type.toObject(type.decode(message)) as { response?: { server: string }; error?: { message: string } };
  return { server: reply.response?.server, error: reply.error };
}

export class GrpcClient {
  readonly #endpoint: Endpoint;
  readonly #connections: H2ClientConnection[];
  #next = 0;

  /** `firstStreamId` is for tests of the stream-id rollover. */
  constructor(endpoint: Endpoint, sessions = 1, firstStreamId = 1) {
    this.#endpoint = endpoint;
    this.#connections = Array.from({ length: sessions }, () => new H2ClientConnection(endpoint, firstStreamId));
  }

  /** Resolves once every connection has the server's SETTINGS; rejects on the first failure. */
  async ready(timeoutMs = 2000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("http2 connect timeout")), timeoutMs)));
    try {
      await Promise.race([Promise.all(this.#connections.map((c) => c.ready)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One unary call with a pre-encoded body; `done` gets the result or an Error. A connection
   * that went away gracefully (GOAWAY, stream ids used up) is replaced; a failed one is not.
   */
  call(path: string, body: Uint8Array, done: CallDone): void {
    const slot = this.#next++ % this.#connections.length;
    let connection = this.#connections[slot]!;
    if (!connection.acceptsCalls && !connection.failed) {
      connection.closeWhenIdle();
      connection = this.#connections[slot] = new H2ClientConnection(this.#endpoint);
    }
    connection.call(path, body, done);
  }

  callAsync(path: string, body: Uint8Array): Promise<CallResult> {
    return new Promise((resolve, reject) => this.call(path, body, (result) => (result instanceof Error ? reject(result) : resolve(result))));
  }

  close(): void {
    for (const connection of this.#connections) connection.close();
  }
}
