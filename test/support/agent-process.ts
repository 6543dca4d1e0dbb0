/**
 * The compiled agent as a child process, for end-to-end tests: start it, wait until its API
 * answers a health check through the compiled `tacon`, collect its log, stop it.
 */
import { $, type Subprocess } from "bun";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
/** AGENT_UNDER_TEST runs the tests against another build (e.g. main's, to see a new test fail on it). */
const dist = process.env.AGENT_UNDER_TEST ?? `${root}dist`;
export const AGENT = `${dist}/tacacsrs-agentd`;
export const TACON = `${dist}/tacon`;

if (!existsSync(AGENT)) throw new Error(`${AGENT} is missing: run 'npm run build' (npm test does)`);

export interface AgentProcess {
  readonly dir: string;
  readonly socket: string;
  readonly process: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything the agent wrote so far (stdout and stderr). */
  output(): string;
  /** Runs the compiled tacon against this agent's socket. */
  tacon(args: string[], env?: Record<string, string>, stdin?: string): Promise<{ exit: number; stdout: string; stderr: string }>;
  /** SIGTERM, wait for the exit status; removes the temp dir. */
  stop(): Promise<number>;
}

/**
 * A temp dir holding the API socket; `args` need not name --listen-endpoint. `prefix` runs the
 * agent through a launcher that ends by exec-ing it (same pid), e.g. a sandbox.
 */
export async function startAgent(
  args: string[],
  env: Record<string, string> = {},
  options: { waitHealthy?: boolean; dir?: string; prefix?: string[] } = {},
): Promise<AgentProcess> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "tacacsrs-e2e-"));
  const given = args.indexOf("--listen-endpoint");
  const socket = given >= 0 ? args[given + 1]! : join(dir, "tacacs.sock");
  // A proxy-only agent hosts no API: adding a listen endpoint would only earn an "unused" warning.
  const proxyOnly = args.join(" ").includes("--service-mode tacacs-proxy");
  const fullArgs = given >= 0 || proxyOnly ? args : [...args, "--listen-endpoint", socket];
  const child = Bun.spawn([...(options.prefix ?? []), AGENT, ...fullArgs], { env: { PATH: process.env.PATH ?? "", ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let log = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) log += new TextDecoder().decode(chunk);
  };
  const collecting = Promise.all([collect(child.stdout), collect(child.stderr)]);

  const agent: AgentProcess = {
    dir,
    socket,
    process: child,
    output: () => log,
    async tacon(tArgs, tEnv = {}, stdin) {
      const result = await $`${TACON} --service-endpoint ${socket} ${tArgs} < ${new Response(stdin ?? "")}`
        .env({ PATH: process.env.PATH ?? "", ...tEnv })
        .nothrow()
        .quiet();
      return { exit: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await child.exited;
      clearTimeout(timer);
      await collecting;
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
  if (options.waitHealthy !== false) {
    const until = Date.now() + 10_000;
    // Liveness, not readiness: an agent whose upstream servers are all down answers, truthfully, NOT_SERVING.
    while ((await agent.tacon(["health", "liveness", "--timeout-seconds", "1"])).exit !== 0) {
      if (child.exitCode !== null || Date.now() > until) {
        await agent.stop();
        throw new Error(`the agent did not become healthy (exit ${child.exitCode}):\n${log}`);
      }
      await Bun.sleep(25);
    }
  }
  return agent;
}
