/**
 * The hostile-local-client harness (issue 19): a raw HTTP/2 attack connection that reads the
 * agent's frames back (GOAWAY, RST_STREAM codes), a checker that keeps making legitimate calls on
 * connections of its own while an attack runs, and the agent's resident memory from /proc.
 */
import { readFileSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { callUnary } from "../../src/api/client";
import type { Endpoint } from "../../src/common/endpoint";
import { FrameType, PREFACE, frame, grpcHeaders, headerBlock, settings } from "../reliability/h2-frames";
import { startAgent, type AgentProcess } from "./agent-process";
import { startTacacsServer, type TestServer } from "./tacacs-server";

export const FrameFlag = { EndStream: 0x1, Ack: 0x1, EndHeaders: 0x4, Padded: 0x8 } as const;
export const H2Error = { NO_ERROR: 0, PROTOCOL_ERROR: 1, FLOW_CONTROL_ERROR: 3, SETTINGS_TIMEOUT: 4, STREAM_CLOSED: 5, REFUSED_STREAM: 7, CANCEL: 8, ENHANCE_YOUR_CALM: 11 } as const;
export const HEALTH_WATCH = "/grpc.health.v1.Health/Watch";
export const HEALTH_CHECK = "/grpc.health.v1.Health/Check";

/** The agent's resident set in KiB (VmRSS). */
export function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

/** One raw connection: writes bytes as given, parses what the agent sends back. */
export class RawH2 {
  readonly socket: Socket;
  /** RST_STREAM frames received: stream id → error codes, in order. */
  readonly resets = new Map<number, number[]>();
  /** Streams that got a HEADERS frame (a reply). */
  readonly answered = new Set<number>();
  /** Streams the agent ended (HEADERS or DATA with END_STREAM). */
  readonly ended = new Set<number>();
  goAway: number | undefined;
  /** PING acknowledgements received (a PING after a burst tells when the agent has read it). */
  pingAcks = 0;
  closed = false;
  #input = new Uint8Array(0);

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => this.#read(chunk));
    socket.on("error", () => {});
    socket.on("close", () => (this.closed = true));
  }

  static open(path: string): Promise<RawH2> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path }, () => resolve(new RawH2(socket)));
      socket.once("error", reject);
    });
  }

  /** Opens and sends the preface and an empty SETTINGS (plus `extra` settings). */
  static async handshake(path: string, extra: [number, number][] = []): Promise<RawH2> {
    const raw = await RawH2.open(path);
    raw.write(PREFACE, settings(extra));
    return raw;
  }

  /** Writes frames; resolves when the socket took them (back-pressure for floods). */
  write(...parts: Uint8Array[]): Promise<void> {
    if (this.closed) return Promise.resolve();
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (this.socket.write(bytes)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
  }

  /** HEADERS of a gRPC call on `streamId` (END_HEADERS, END_STREAM when `end`). */
  request(streamId: number, path: string, extra: [string, string][] = [], end = false): Uint8Array {
    return frame(FrameType.Headers, FrameFlag.EndHeaders | (end ? FrameFlag.EndStream : 0), streamId, headerBlock(grpcHeaders(path, extra)));
  }

  /** Sends a PING and resolves when the agent acknowledged it (it has read everything before). */
  async sync(ms = 30_000): Promise<boolean> {
    const before = this.pingAcks;
    await this.write(frame(FrameType.Ping, 0, 0, new Uint8Array(8)));
    return this.wait(() => this.pingAcks > before || this.closed, ms);
  }

  /** Resolves when `until()` holds or after `ms`. */
  async wait(until: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!until() && Date.now() < deadline) await Bun.sleep(10);
    return until();
  }

  close(): void {
    this.socket.destroy();
  }

  #read(chunk: Buffer): void {
    const input = new Uint8Array(this.#input.length + chunk.length);
    input.set(this.#input);
    input.set(chunk, this.#input.length);
    let at = 0;
    while (input.length - at >= 9) {
      const length = (input[at]! << 16) | (input[at + 1]! << 8) | input[at + 2]!;
      if (input.length - at < 9 + length) break;
      const type = input[at + 3]!;
      const flags = input[at + 4]!;
      const view = new DataView(input.buffer, input.byteOffset + at + 9, length);
      const streamId = new DataView(input.buffer, input.byteOffset + at + 5, 4).getUint32(0) & 0x7fffffff;
      if (type === FrameType.RstStream) {
        const codes = this.resets.get(streamId) ?? [];
        codes.push(view.getUint32(0));
        this.resets.set(streamId, codes);
      } else if (type === FrameType.GoAway) this.goAway = view.getUint32(4);
      else if (type === FrameType.Headers) this.answered.add(streamId);
      else if (type === FrameType.Ping && flags & FrameFlag.Ack) this.pingAcks++;
      if ((type === FrameType.Headers || type === FrameType.Data) && flags & FrameFlag.EndStream) this.ended.add(streamId);
      at += 9 + length;
    }
    this.#input = input.slice(at);
  }
}

export interface CheckerResult {
  ok: number;
  failed: number;
  errors: string[];
  /** Milliseconds per successful call. */
  latencies: number[];
}

/**
 * Legitimate calls every `intervalMs`, each on a new connection (alternating a health Check and
 * an Authorization of the test server's default user), until stopped.
 */
export function startChecker(api: Endpoint, intervalMs = 150): { stop(): Promise<CheckerResult> } {
  const result: CheckerResult = { ok: 0, failed: 0, errors: [], latencies: [] };
  const pending = new Set<Promise<void>>();
  let n = 0;
  const tick = () => {
    const started = performance.now();
    const call =
      n++ % 2 === 0
        ? callUnary(api, "HealthCheck", {}, 5000)
        : callUnary(api, "Authorization", { user: "alice", authenticationContext: 1, args: [{ name: "service", value: "shell", mandatory: true }, { name: "cmd", value: "show", mandatory: true }] }, 5000);
    const settled = call.then(
      () => {
        result.ok++;
        result.latencies.push(performance.now() - started);
      },
      (error: Error) => {
        result.failed++;
        if (result.errors.length < 5) result.errors.push(error.message);
      },
    );
    pending.add(settled);
    void settled.then(() => pending.delete(settled));
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...pending]);
      return result;
    },
  };
}

/** The share of the checker's calls that succeeded. */
export function successRate(result: CheckerResult): number {
  return result.ok / Math.max(1, result.ok + result.failed);
}

/** A test TACACS+ server and the compiled agent with default limits in front of it; both stopped by `cleanups`. */
export async function agentUnderAttack(
  secret: string,
  cleanups: (() => unknown)[],
  serverDelayMs = 0,
  extraArgs: string[] = [],
): Promise<{ agent: AgentProcess; api: Endpoint & { kind: "unix" }; server: TestServer }> {
  const server = await startTacacsServer({ key: secret, faults: { delayMs: serverDelayMs } });
  cleanups.push(() => server.stop());
  const agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`, ...extraArgs], { TACACSRS_SHARED_SECRET: secret });
  cleanups.push(() => agent.stop());
  return { agent, api: { kind: "unix", path: agent.socket }, server };
}

/** The 95th percentile of the checker's successful call latencies, in ms. */
export function p95(result: CheckerResult): number {
  const sorted = [...result.latencies].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? 0;
}

/** `one` repeated `times` times, as one buffer (a burst of identical frames). */
export function repeated(one: Uint8Array, times: number): Uint8Array {
  const out = new Uint8Array(one.length * times);
  for (let i = 0; i < times; i++) out.set(one, i * one.length);
  return out;
}
