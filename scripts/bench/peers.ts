/**
 * The processes a benchmark runs: the test TACACS+ server (its CLI, one process each) and the
 * COMPILED agent (a private copy of dist/tacacsrs-agentd, so a rebuild during the run cannot
 * swap it). Everything started here is registered for cleanup, which index.ts runs on any exit.
 */
import type { Subprocess } from "bun";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Endpoint } from "../../src/common/endpoint";
import { GrpcClient, HEALTH_PATH, healthBody } from "./grpc-client";
import { LineReader } from "./lines";

const root = new URL("../..", import.meta.url).pathname;
const SERVER_CLI = `${root}test/support/tacacs-server-cli.ts`;
const BUN = process.execPath;

const cleanups: (() => unknown)[] = [];
/** Runs (once) everything registered so far, newest first. */
export async function cleanupAll(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // best effort: the rest still runs
    }
  }
}
export function onCleanup(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

let dir: string | undefined;
/** The run's temp dir (sockets, the agent copy), made on first use and removed by cleanupAll. */
export function workDir(): string {
  if (dir === undefined) {
    const made = mkdtempSync(join(tmpdir(), "agentd-bench-"));
    dir = made;
    onCleanup(() => {
      rmSync(made, { recursive: true, force: true });
      dir = undefined;
      agentCopy = undefined;
    });
  }
  return dir;
}

/** Kills a child and waits for it (SIGKILL after 5 s). */
async function stopChild(child: Subprocess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await child.exited;
  clearTimeout(timer);
}

export interface ServerCounters {
  connectionsAccepted: number;
  connectionsOpen: number;
  packetsReceived: number;
  repliesSent: number;
}

/** One test TACACS+ server process; stdin/stdout carry its JSON control channel. */
export class ServerProcess {
  private constructor(
    readonly args: string[],
    readonly port: number,
    private readonly child: Subprocess<"pipe", "pipe", "inherit">,
    private readonly lines: LineReader,
  ) {}

  /** `args`: tacacs-server-cli flags (see its --help); `port` 0 picks a free one. */
  static async start(args: string[], port = 0): Promise<ServerProcess> {
    const child = Bun.spawn([BUN, SERVER_CLI, "--port", String(port), ...args], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    onCleanup(() => stopChild(child));
    const lines = new LineReader(child.stdout);
    const first = JSON.parse(await lines.next(10_000, "test server start")) as { port: number };
    return new ServerProcess(args, first.port, child, lines);
  }

  get pid(): number {
    return this.child.pid;
  }

  async command(command: object): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
    this.child.stdin.flush();
    const answer = JSON.parse(await this.lines.next(5000, "test server command")) as Record<string, unknown>;
    if ("error" in answer) throw new Error(`test server: ${String(answer.error)}`);
    return answer;
  }

  async counters(): Promise<ServerCounters> {
    return (await this.command({ cmd: "counters" })).counters as ServerCounters;
  }

  setFaults(faults: object): Promise<unknown> {
    return this.command({ faults });
  }

  /** SIGKILL: the port refuses from now on, open connections are reset by the kernel. */
  kill(): Promise<void> {
    return stopChild(this.child, "SIGKILL");
  }

  /** A new process with the same flags on the same port. */
  restart(): Promise<ServerProcess> {
    return ServerProcess.start(this.args, this.port);
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

let agentCopy: string | undefined;
/** The agent binary, copied once per run. */
export function agentBinary(): string {
  if (agentCopy) return agentCopy;
  const built = process.env.AGENTD_BIN ?? `${root}dist/tacacsrs-agentd`;
  if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`);
  agentCopy = join(workDir(), "tacacsrs-agentd");
  copyFileSync(built, agentCopy);
  return agentCopy;
}

let agentCount = 0;

export class AgentProcess {
  #log = "";

  private constructor(
    readonly child: Subprocess<"ignore", "pipe", "pipe">,
    readonly api: Endpoint,
    readonly proxy: Endpoint | undefined,
    readonly startedAt: number,
  ) {
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) this.#log = (this.#log + decoder.decode(chunk)).slice(-20_000);
    };
    if (child.stdout instanceof ReadableStream) void collect(child.stdout);
    if (child.stderr instanceof ReadableStream) void collect(child.stderr);
  }

  /**
   * Starts the agent with `args` (servers, secrets, TLS) plus its own API socket (or `apiTcpPort`
   * for a loopback TCP listener) and, with `proxy`, a proxy socket; `binary` instead of the
   * built agent (A/B runs). Does not wait for health.
   */
  static spawn(args: string[], options: { proxy?: boolean; apiTcpPort?: number; env?: Record<string, string>; binary?: string } = {}): AgentProcess {
    const n = ++agentCount;
    const api: Endpoint = options.apiTcpPort !== undefined ? { kind: "tcp", host: "127.0.0.1", port: options.apiTcpPort } : { kind: "unix", path: join(workDir(), `agent${n}.sock`) };
    const proxy: Endpoint | undefined = options.proxy ? { kind: "unix", path: join(workDir(), `agent${n}-proxy.sock`) } : undefined;
    const listen = api.kind === "unix" ? api.path : `${api.host}:${api.port}`;
    const full = [...args, "--listen-endpoint", listen, ...(proxy?.kind === "unix" ? ["--proxy-endpoint", proxy.path] : [])];
    const startedAt = performance.now();
    const child = Bun.spawn([options.binary ?? agentBinary(), ...full], { env: { PATH: process.env.PATH ?? "", ...options.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const agent = new AgentProcess(child, api, proxy, startedAt);
    onCleanup(() => agent.stop());
    return agent;
  }

  /** Wraps an agent started some other way (e.g. from source under the profiler). */
  static attach(child: Subprocess<"ignore", "ignore" | "pipe", "inherit" | "pipe">, api: Endpoint): AgentProcess {
    return new AgentProcess(child as Subprocess<"ignore", "pipe", "pipe">, api, undefined, performance.now());
  }

  static async start(args: string[], options: Parameters<typeof AgentProcess.spawn>[1] = {}): Promise<AgentProcess> {
    const agent = AgentProcess.spawn(args, options);
    // Liveness: the API answers, whether or not an upstream server does (some runs start with none).
    await agent.waitHealthy(10_000, 1, "liveness");
    return agent;
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Polls the health check of `service` (readiness by default; a fresh connection each try, every `everyMs`) until SERVING; ms since spawn. */
  async waitHealthy(timeoutMs = 10_000, everyMs = 1, service = ""): Promise<number> {
    const body = healthBody(service);
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`the agent exited (${this.child.exitCode}):\n${this.#log}`);
      const client = new GrpcClient(this.api);
      try {
        await client.ready(500);
        const reply = await client.callAsync(HEALTH_PATH, body);
        // HealthCheckResponse { status = 1 (SERVING) }: bytes 0x08 0x01
        if (reply.status === 0 && reply.message[0] === 0x08 && reply.message[1] === 0x01) return performance.now() - this.startedAt;
      } catch {
        // not listening yet
      } finally {
        client.close();
      }
      await Bun.sleep(everyMs);
    }
    throw new Error(`the agent did not become healthy within ${timeoutMs} ms:\n${this.#log}`);
  }

  output(): string {
    return this.#log;
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}
