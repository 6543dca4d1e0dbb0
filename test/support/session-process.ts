/**
 * The compiled `tacacs-session` against a compiled agent and the test TACACS+ server, for the
 * session e2e tests (issue 18): a server whose user may run the given commands (resolved
 * absolute paths, "PATH *" for any arguments), an agent in front of it, and a runner.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
  /** The agent's API socket. */
  socket: string;
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

/**
 * `sharedWithUsers`: other local users (an sshd login) may reach the agent's socket and read the
 * settings file (the temp dir 0755, the socket 0666).
 */
export async function startSessionStack(commands: string[], options: { sharedWithUsers?: boolean; users?: string[] } = {}): Promise<SessionStack> {
  const server = await startTacacsServer({
    key: SECRET,
    policy: { users: Object.fromEntries([SESSION_USER, ...(options.users ?? [])].map((user) => [user, { password: "unused", privLvl: 15, commands, services: { shell: [] } }])) },
  });
  const dir = mkdtempSync(join(tmpdir(), "tacacsrs-h18-"));
  if (options.sharedWithUsers) chmodSync(dir, 0o755);
  let agent: AgentProcess;
  try {
    const shared = options.sharedWithUsers ? ["--socket-mode", "666"] : [];
    agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`, "--shared-secret", SECRET, "--request-timeout-seconds", "2", ...shared], {}, { dir });
  } catch (error) {
    await server.stop();
    throw error;
  }
  const config = join(dir, "session.conf");
  writeFileSync(config, `# written by test/support/session-process.ts\n--service-endpoint ${agent.socket}\n--user ${SESSION_USER}\n`, { mode: 0o644 });
  return {
    server,
    agent,
    dir,
    socket: agent.socket,
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
