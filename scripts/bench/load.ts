/**
 * The load generator, run as its own process so the agent's CPU is measured apart from it:
 *
 *   bun scripts/bench/load.ts '<LoadSpec JSON>'
 *
 * Prints `{"phase":"measure"}` when the measured window starts, `{"phase":"done"}` when it ends,
 * then one `{"result":{...}}` line. Closed loop: N callers, each sending its next request when the
 * previous one is answered. Open loop: a fixed schedule of R requests per second, latency taken
 * from each request's scheduled time (no coordinated omission).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Endpoint } from "../../src/common/endpoint";
import { statusName } from "../../src/api/status";
import { ACCOUNTING_PATH, GrpcClient, accountingBody, decodeAccountingReply, isResponse, type CallResult } from "./grpc-client";
import { latencyOf, round, type Latency } from "./stats";
import { MuxClient, legacyRequest, type TacacsTarget } from "./tacacs-load";

export type ClientSpec =
  | { kind: "mux"; target: TacacsTarget; key?: string }
  | { kind: "legacy"; target: TacacsTarget; key?: string }
  | { kind: "grpc"; endpoint: Endpoint; sessions: number };

export interface LoadSpec {
  client: ClientSpec;
  load: { closed: number } | { open: number };
  warmupMs: number;
  durationMs: number;
}

export interface LoadResult extends Latency {
  /** Replies counted in the measured window, per second. */
  rps: number;
  requests: number;
  errors: number;
  /** The errors by class: a gRPC status name, "error reply: …" (the agent's ServiceError), "transport: …", "unanswered". */
  failures: Record<string, number>;
  /** Open loop: requests not sent because too many were in flight. */
  shed: number;
}

/**
 * Open loop never has more than this many requests in flight (the rest is shed and counted):
 * the agent's default --max-api-streams-per-peer (the generator is one uid, one peer), so an
 * overloaded agent sheds instead of refusing beyond the peer's share or collapsing the generator
 * under thousands of queued streams that all miss their deadline.
 */
const MAX_IN_FLIGHT = 512;
const DRAIN_MS = 5000;

/** `failure` names the class of a failed request; undefined when it succeeded. */
type Issue = (done: (failure?: string) => void) => void;

/** A failure class: numbers are masked so one cause is one class ("... 256 sessions ..." → "... N sessions ..."). */
function failureClass(prefix: string, message: string): string {
  return `${prefix}: ${message.replace(/\d+/g, "N").slice(0, 100)}`;
}

/** How a gRPC call ended: undefined for an accounting response, else its failure class. */
function grpcFailure(result: CallResult | Error): string | undefined {
  if (result instanceof Error) return failureClass("transport", result.message);
  if (result.status !== 0) return statusName(result.status);
  if (isResponse(result.message)) return undefined;
  return failureClass("error reply", decodeAccountingReply(result.message).error?.message ?? "");
}

async function makeClient(spec: ClientSpec): Promise<{ issue: Issue; close(): void }> {
  if (spec.kind === "grpc") {
    const client = new GrpcClient(spec.endpoint, spec.sessions);
    await client.ready();
    const body = accountingBody();
    return {
      issue: (done) => client.call(ACCOUNTING_PATH, body, (r) => done(grpcFailure(r))),
      close: () => client.close(),
    };
  }
  const key = spec.key === undefined ? undefined : new TextEncoder().encode(spec.key);
  const tacacs = (done: (failure?: string) => void) => (ok: boolean) => done(ok ? undefined : "no accounting reply");
  if (spec.kind === "legacy") return { issue: (done) => legacyRequest(spec.target, key, tacacs(done)), close: () => {} };
  const mux = await MuxClient.connect(spec.target, key);
  return { issue: (done) => mux.request(tacacs(done)), close: () => mux.close() };
}

export async function runLoad(spec: LoadSpec, phase: (name: "measure" | "done") => void = () => {}): Promise<LoadResult> {
  const client = await makeClient(spec.client);
  let samples = new Float64Array(1 << 16);
  let count = 0;
  let requests = 0;
  let errors = 0;
  const failures: Record<string, number> = {};
  let shed = 0;
  let inFlight = 0;
  const start = performance.now();
  const measureFrom = start + spec.warmupMs;
  const measureTo = measureFrom + spec.durationMs;
  let running = true;

  const record = (sentAt: number, failure: string | undefined) => {
    const now = performance.now();
    if (now < measureFrom || now > measureTo) return;
    requests++;
    if (failure !== undefined) {
      errors++;
      failures[failure] = (failures[failure] ?? 0) + 1;
      return;
    }
    if (count === samples.length) {
      const grown = new Float64Array(samples.length * 2);
      grown.set(samples);
      samples = grown;
    }
    samples[count++] = (now - sentAt) * 1000;
  };
  let drained: () => void = () => {};
  const send = (sentAt: number, then?: () => void) => {
    inFlight++;
    client.issue((failure) => {
      inFlight--;
      record(sentAt, failure);
      if (running && then) then();
      else if (!running && inFlight === 0) drained();
    });
  };

  /** Open loop: sends every request scheduled up to `now` (and before the window's end). */
  let sendDue = (_now: number) => {};
  setTimeout(() => phase("measure"), Math.max(0, measureFrom - performance.now()));
  if ("closed" in spec.load) {
    const loop = () => send(performance.now(), loop);
    for (let i = 0; i < spec.load.closed; i++) loop();
  } else {
    const rate = spec.load.open;
    const at = (index: number) => start + (index * 1000) / rate;
    let scheduled = 0;
    // Every request whose time has come goes out, then the timer is aimed at the next one (Bun
    // fires ~0.1–0.2 ms after the whole milliseconds asked, at least 1 ms; no busy waiting).
    sendDue = (now) => {
      for (; at(scheduled) <= now && at(scheduled) < measureTo; scheduled++) {
        if (inFlight >= MAX_IN_FLIGHT) shed++;
        else send(at(scheduled));
      }
    };
    const tick = () => {
      sendDue(performance.now());
      if (at(scheduled) < measureTo) setTimeout(tick, Math.max(0, at(scheduled) - performance.now()));
    };
    tick();
  }
  await sleep(measureTo - performance.now());
  sendDue(measureTo); // the last timer may fire after this one: the window's schedule is sent whole
  running = false;
  phase("done");
  if (inFlight > 0) await Promise.race([new Promise<void>((resolve) => (drained = resolve)), sleep(DRAIN_MS)]);
  errors += inFlight; // never answered (counted before close() fails them)
  if (inFlight > 0) failures.unanswered = inFlight;
  client.close();
  return { rps: round((count * 1000) / spec.durationMs), requests, errors, failures, shed, ...latencyOf(samples.subarray(0, count)) };
}

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2] ?? "") as LoadSpec;
  const result = await runLoad(spec, (name) => console.log(JSON.stringify({ phase: name })));
  console.log(JSON.stringify({ result }));
  process.exit(0);
}
