/**
 * Unary gRPC clients of the agent's own API: on node:http2 (`callUnary`, `ApiClient`: tests and
 * the benchmarks' comparison) and on our raw HTTP/2 client (`callUnaryDirect`: `tacon` and
 * `tacon pam`, one call per process; `DirectApiClient`: tacacs-session, the audit plugin).
 *
 *   const reply = await callUnary({ kind: "unix", path }, "Accounting", { user, command }, 5000);
 *   // reply.result === "response" | "error"; enums as names, uint64 as numbers, bytes as Uint8Array
 */
import type * as http2 from "node:http2";
import type { Endpoint } from "../common/endpoint";
import { formatEndpoint } from "../common/endpoint";
import { MessageReader } from "./framing";
import { H2ClientConnection } from "./h2/client-connection";
import { decodeMessageObject, encodeFramedMessageObject } from "./message-codec";
import { AGENT_SERVICE, HEALTH_SERVICE, serviceMethods, type MethodNames } from "./proto-schema";
import { decodeGrpcMessage, formatGrpcTimeout, GrpcError, Status, statusName } from "./status";

export type ApiMethod =
  | "AuthenticatePap"
  | "AuthenticateAsciiLogin"
  | "Accounting"
  | "Authorization"
  | "Status"
  | "HealthCheck"
  | "RegisterAuditSession"
  | "UnregisterAuditSession"
  | "LookupAuditSession"
  | "ReportAuditPlugin";

const METHODS: Record<ApiMethod, MethodNames> = (() => {
  const byPath = new Map([...serviceMethods(AGENT_SERVICE), ...serviceMethods(HEALTH_SERVICE)].map((m) => [m.path, m]));
  const get = (path: string) => byPath.get(path)!;
  return {
    AuthenticatePap: get(`/${AGENT_SERVICE}/AuthenticatePap`),
    AuthenticateAsciiLogin: get(`/${AGENT_SERVICE}/AuthenticateAsciiLogin`),
    Accounting: get(`/${AGENT_SERVICE}/Accounting`),
    Authorization: get(`/${AGENT_SERVICE}/Authorization`),
    Status: get(`/${AGENT_SERVICE}/Status`),
    RegisterAuditSession: get(`/${AGENT_SERVICE}/RegisterAuditSession`),
    UnregisterAuditSession: get(`/${AGENT_SERVICE}/UnregisterAuditSession`),
    LookupAuditSession: get(`/${AGENT_SERVICE}/LookupAuditSession`),
    ReportAuditPlugin: get(`/${AGENT_SERVICE}/ReportAuditPlugin`),
    HealthCheck: get(`/${HEALTH_SERVICE}/Check`),
  };
})();

/** The request as one length-prefixed gRPC message, its only copy (the callers wipe it after the call: it may hold a password). */
function encodeRequest(method: ApiMethod, request: object): Uint8Array {
  try {
    return encodeFramedMessageObject(METHODS[method].requestType, request);
  } catch (error) {
    throw new ApiCallError(Status.INVALID_ARGUMENT, `cannot encode the ${method} request: ${(error as Error).message}`);
  }
}

/** The reply as a plain object: enums as names, 64-bit integers as numbers, oneof name in `result`, defaults filled in. */
function decodeReply(method: ApiMethod, message: Uint8Array): Record<string, unknown> {
  try {
    return decodeMessageObject(METHODS[method].responseType, message);
  } catch (error) {
    throw new ApiCallError(Status.INTERNAL, `bad reply from the agent: ${(error as Error).message}`);
  }
}

/** Replies are limited like requests on the server side. */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;

/** A call that did not produce a reply: `code` is the grpc-status (UNAVAILABLE when unreachable). */
export class ApiCallError extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** True when the agent could not be reached at all (no socket, refused, connection lost). */
    readonly unreachable = false,
  ) {
    super(message);
    this.name = "ApiCallError";
  }

  get codeName(): string {
    return statusName(this.code);
  }
}

function connectSession(endpoint: Endpoint): http2.ClientHttp2Session {
  // node:http2 is loaded on first use (~70 ms), and node:net with it (~8 ms): the daemon, which
  // bundles this module, never needs them, nor do the callers on the raw client (callUnaryDirect).
  const { connect } = process.getBuiltinModule("node:http2");
  if (endpoint.kind === "unix") {
    const { connect: netConnect } = process.getBuiltinModule("node:net");
    return connect("http://localhost", { createConnection: () => netConnect({ path: endpoint.path }) });
  }
  return connect(`http://${formatEndpoint(endpoint)}`);
}

/**
 * Calls one unary method and resolves with the decoded reply as a plain object
 * (enums as names, 64-bit integers as numbers, oneof name in `result`, defaults filled in).
 * Rejects with ApiCallError for a non-OK grpc-status, a timeout or an unreachable agent.
 */
export function callUnary(endpoint: Endpoint, method: ApiMethod, request: object, timeoutMs: number): Promise<Record<string, unknown>> {
  const session = connectSession(endpoint);
  return callOn(session, formatEndpoint(endpoint), method, request, timeoutMs, () => session.destroy());
}

/**
 * One connection for many calls (the audit plugin makes one per exec): it reconnects on the
 * next call after the agent closed it or went away.
 */
export class ApiClient {
  readonly #endpoint: Endpoint;
  #session: http2.ClientHttp2Session | undefined;

  constructor(endpoint: Endpoint) {
    this.#endpoint = endpoint;
  }

  call(method: ApiMethod, request: object, timeoutMs: number): Promise<Record<string, unknown>> {
    let session = this.#session;
    if (session === undefined || session.closed || session.destroyed) {
      session = connectSession(this.#endpoint);
      const own = session;
      // Each call in flight listens for the connection's failure.
      own.setMaxListeners(0);
      // A broken connection fails its streams; the next call connects anew.
      own.on("error", () => own.destroy());
      own.on("close", () => {
        if (this.#session === own) this.#session = undefined;
      });
      this.#session = session;
    }
    return callOn(session, formatEndpoint(this.#endpoint), method, request, timeoutMs, () => {});
  }

  close(): void {
    this.#session?.close();
    this.#session = undefined;
  }
}

function callOn(
  session: http2.ClientHttp2Session,
  where: string,
  method: ApiMethod,
  request: object,
  timeoutMs: number,
  done: () => void,
): Promise<Record<string, unknown>> {
  const descriptor = METHODS[method];
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: ApiCallError | undefined, reply?: Record<string, unknown>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.off("error", onSessionError);
      done();
      if (error) reject(error);
      else resolve(reply!);
    };
    const timer = setTimeout(() => finish(new ApiCallError(Status.DEADLINE_EXCEEDED, `no reply from the agent at ${where} within ${timeoutMs} ms`)), timeoutMs);
    const onSessionError = (error: Error) => finish(new ApiCallError(Status.UNAVAILABLE, `cannot reach the agent at ${where}: ${error.message}`, true));
    session.once("error", onSessionError);

    let body: Uint8Array;
    try {
      body = encodeRequest(method, request);
    } catch (error) {
      finish(error as ApiCallError);
      return;
    }
    const stream = session.request({
      ":method": "POST",
      ":path": descriptor.path,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": formatGrpcTimeout(timeoutMs),
    });
    const reader = new MessageReader(MAX_REPLY_BYTES);
    let status: string | undefined;
    let message = "";
    const takeStatus = (headers: http2.IncomingHttpHeaders) => {
      const value = headers["grpc-status"];
      if (typeof value === "string") {
        status = value;
        message = decodeGrpcMessage(String(headers["grpc-message"] ?? ""));
      }
    };
    stream.on("response", takeStatus);
    stream.on("trailers", takeStatus);
    stream.on("error", (error) => finish(new ApiCallError(Status.UNAVAILABLE, `the call to the agent at ${where} failed: ${error.message}`, true)));
    stream.on("data", (chunk: Uint8Array) => {
      try {
        reader.push(chunk);
      } catch (error) {
        finish(new ApiCallError(Status.INTERNAL, `bad reply from the agent: ${(error as GrpcError).message}`));
      }
    });
    stream.on("close", () => {
      if (status === undefined) {
        finish(new ApiCallError(Status.UNAVAILABLE, `the agent at ${where} closed the call without a status`, true));
      } else if (status !== "0") {
        finish(new ApiCallError(Number(status), message || `grpc-status ${status}`));
      } else {
        try {
          finish(undefined, decodeReply(method, reader.single()));
        } catch (error) {
          finish(error as ApiCallError);
        }
      }
    });
    stream.end(body);
  });
}

/**
 * callUnary on the raw HTTP/2 client (h2/client-connection.ts) instead of node:http2, whose
 * loading alone costs ~70 ms: for short-lived callers (`tacon`, and `tacon pam` with one call
 * per PAM phase). Same replies and errors as callUnary. The encoded request is wiped once the
 * call is over (it may carry a password).
 */
export function callUnaryDirect(endpoint: Endpoint, method: ApiMethod, request: object, timeoutMs: number): Promise<Record<string, unknown>> {
  let body: Uint8Array;
  try {
    body = encodeRequest(method, request);
  } catch (error) {
    return Promise.reject(error);
  }
  const connection = new H2ClientConnection(endpoint);
  return callDirect(connection, formatEndpoint(endpoint), method, body, timeoutMs).finally(() => {
    body.fill(0);
    connection.close();
  });
}

/** One call on a raw HTTP/2 connection: the reply decoded, or ApiCallError (unreachable when the connection failed). */
function callDirect(connection: H2ClientConnection, where: string, method: ApiMethod, body: Uint8Array, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ApiCallError(Status.DEADLINE_EXCEEDED, `no reply from the agent at ${where} within ${timeoutMs} ms`)), timeoutMs);
    connection.call(METHODS[method].path, body, (result) => {
      clearTimeout(timer);
      if (result instanceof Error) reject(new ApiCallError(Status.UNAVAILABLE, `cannot reach the agent at ${where}: ${result.message}`, true));
      else if (result.status !== Status.OK) reject(new ApiCallError(result.status, decodeGrpcMessage(result.statusMessage) || `grpc-status ${result.status}`));
      else {
        try {
          resolve(decodeReply(method, result.message));
        } catch (error) {
          reject(error);
        }
      }
    });
  });
}

/**
 * Many calls on one raw HTTP/2 connection (h2/client-connection.ts), for a long-running caller
 * with a call per event (the audit plugin): node:http2's client cost it most of its CPU. A
 * connection that failed or went away is replaced at the next call.
 */
export class DirectApiClient {
  readonly #endpoint: Endpoint;
  readonly #where: string;
  #connection: H2ClientConnection | undefined;

  constructor(endpoint: Endpoint) {
    this.#endpoint = endpoint;
    this.#where = formatEndpoint(endpoint);
  }

  call(method: ApiMethod, request: object, timeoutMs: number): Promise<Record<string, unknown>> {
    let body: Uint8Array;
    try {
      body = encodeRequest(method, request);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#connection === undefined || !this.#connection.acceptsCalls) {
      this.#connection?.closeWhenIdle();
      this.#connection = new H2ClientConnection(this.#endpoint);
    }
    return callDirect(this.#connection, this.#where, method, body, timeoutMs);
  }

  close(): void {
    this.#connection?.closeWhenIdle();
    this.#connection = undefined;
  }
}
