/**
 * The compiled `tacacs-session` against a compiled agent and the test TACACS+ server, for the
 * session e2e tests (issue 18): a server whose user may run the given commands (resolved
 * absolute paths, "PATH *" for any arguments), an agent in front of it, and a runner.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent, type AgentProcess } from "./agent-process";
import { startTacacsServer, type AccountingRecord, type TestServer } from "./tacacs-server";

const root = new URL("../..", import.meta.url).pathname;
export const SESSION = `${root}dist/tacacs-session`;
export const SESSION_USER = "h18-session-user";
const SECRET = "h18-session-secret";

export interface SessionStack {
  server: TestServer;
  agent: AgentProcess;
  dir: string;
  /** tacacs-session with this stack's settings file; append flags, then -c or --. */
  command(): string[];
  /** Runs tacacs-session with `args` (flags, then -c or --), bounded by `timeoutMs`. */
  run(args: string[], options?: { timeoutMs?: number; env?: Record<string, string> }): Promise<SessionRun>;
  stop(): Promise<void>;
}

export interface SessionRun {
  exit: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export async function runSession(args: string[], cwd: string, options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<SessionRun> {
  const started = performance.now();
  const child = Bun.spawn([SESSION, ...args], {
    cwd,
    env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: cwd, ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
  const [stdout, stderr, exit] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  clearTimeout(timer);
  return { exit, stdout, stderr, ms: performance.now() - started };
}

export async function startSessionStack(commands: string[]): Promise<SessionStack> {
  const server = await startTacacsServer({
    key: SECRET,
    policy: { users: { [SESSION_USER]: { password: "unused", privLvl: 15, commands, services: { shell: [] } } } },
  });
  const dir = mkdtempSync(join(tmpdir(), "tacacsrs-h18-"));
  let agent: AgentProcess;
  try {
    agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`, "--shared-secret", SECRET, "--request-timeout-seconds", "2"]);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const config = join(dir, "session.conf");
  writeFileSync(config, `# written by test/support/session-process.ts\n--service-endpoint ${agent.socket}\n--user ${SESSION_USER}\n`);
  return {
    server,
    agent,
    dir,
    command: () => [SESSION, "--config", config],
    run: (args, options) => runSession(["--config", config, ...args], dir, options),
    async stop() {
      await agent.stop();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** "name=value" strings of one record's arguments. */
export function recordArgs(record: AccountingRecord): string[] {
  return record.args.map((a) => `${a.name}=${a.value}`);
}
