/**
 * What an entry point (the gRPC API, the proxy) counts per request type: outcomes, requests in
 * flight and the latency of the whole call. Plain numbers updated in place; one cell per type
 * is made when the service starts, so counting a request is a field update.
 */
import { Histogram } from "./histogram";

export const REQUEST_TYPES = ["authentication", "authorization", "accounting"] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

/** How a request ended, for operators: an answer (pass, fail), an upstream ERROR, or why there was none. */
export const OUTCOMES = ["pass", "fail", "error", "timeout", "unavailable", "resource_exhausted", "invalid"] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** TACACS+ packet types (RFC 8907 §4.1) by cell name. */
const TYPE_BY_PACKET: Record<number, RequestType> = { 1: "authentication", 2: "authorization", 3: "accounting" };

export function requestTypeOf(packetType: number): RequestType | undefined {
  return TYPE_BY_PACKET[packetType];
}

/** Final reply statuses that grant (RFC 8907 §5.4.2, §6.2, §7.2); ERROR is "error", the rest (FAIL, FOLLOW) "fail". */
const PASS_STATUSES: Record<RequestType, readonly number[]> = { authentication: [1], authorization: [1, 2], accounting: [1] };
const ERROR_STATUSES: Record<RequestType, readonly number[]> = { authentication: [7], authorization: [0x11], accounting: [2] };

/** The outcome of a final reply's status (the API's proto values are the RFC's for these). */
export function statusOutcome(type: RequestType, status: number): Outcome {
  if (PASS_STATUSES[type].includes(status)) return "pass";
  return ERROR_STATUSES[type].includes(status) ? "error" : "fail";
}

/** One latency histogram per request type (an upstream server's reply times). */
export function newLatencyByType(): Record<RequestType, Histogram> {
  return { authentication: new Histogram(), authorization: new Histogram(), accounting: new Histogram() };
}

export class RequestCell {
  pass = 0;
  fail = 0;
  error = 0;
  timeout = 0;
  unavailable = 0;
  resource_exhausted = 0;
  invalid = 0;
  inFlight = 0;
  readonly latency = new Histogram();

  /** Counts a request that ended `outcome` after `seconds`. */
  end(outcome: Outcome, seconds: number): void {
    this[outcome] += 1;
    this.inFlight -= 1;
    this.latency.observe(seconds);
  }
}

/** Connections accepted, refused at the connection limit, and open now. */
export interface ConnectionCounts {
  accepted: number;
  refused: number;
  open: number;
}

export type EntryPointMetrics = Record<RequestType, RequestCell> & { connections: ConnectionCounts };

export function newEntryPointMetrics(): EntryPointMetrics {
  return {
    authentication: new RequestCell(),
    authorization: new RequestCell(),
    accounting: new RequestCell(),
    connections: { accepted: 0, refused: 0, open: 0 },
  };
}

/** Seconds since `startMs` (a performance.now() reading). */
export function secondsSince(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}

/** An entry point's counters as the Status RPC's EntryPointStatus (plain numbers, copied). */
export function entryPointStatus(metrics: EntryPointMetrics): object {
  const counts = (cell: RequestCell) => ({ ...Object.fromEntries(OUTCOMES.map((outcome) => [outcome, cell[outcome]])), inFlight: cell.inFlight });
  return {
    connectionsAccepted: metrics.connections.accepted,
    connectionsRefused: metrics.connections.refused,
    connectionsOpen: metrics.connections.open,
    ...Object.fromEntries(REQUEST_TYPES.map((type) => [type, counts(metrics[type])])),
  };
}
