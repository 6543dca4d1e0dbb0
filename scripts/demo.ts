/**
 * `npm run demo`: the agent's main job on loopback, step by step.
 * Starts two test TACACS+ servers, the compiled agent in front of them, asks through `tacon`
 * (accounting, a permitted and a denied authorization, authentication), then stops the preferred
 * server and shows the next request answered by the backup. Cleans up after itself.
 */
import { $, type Subprocess } from "bun";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const agent = `${root}dist/tacacsrs-agentd`;
const tacon = `${root}dist/tacon`;
const SECRET = "demo-shared-secret";
const work = mkdtempSync(join(tmpdir(), "tacacsrs-demo-"));
const socket = join(work, "tacacs.sock");
const children: Subprocess[] = [];

function step(text: string): void {
  console.log(`\n\x1b[1m==> ${text}\x1b[0m`);
}

async function startTestServer(name: string): Promise<{ port: number; process: Subprocess }> {
  const child = Bun.spawn([process.execPath, `${root}test/support/tacacs-server-cli.ts`, "--port", "0", "--key", SECRET], {
    stdout: "pipe",
    stdin: "pipe",
    stderr: "inherit",
  });
  children.push(child);
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  const port = JSON.parse(new TextDecoder().decode(value).split("\n")[0]!).port as number;
  console.log(`    ${name}: test TACACS+ server on 127.0.0.1:${port} (user alice/alicepw may run "show version" only)`);
  return { port, process: child };
}

async function waitForHealthy(): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    if ((await $`${tacon} --service-endpoint ${socket} health`.nothrow().quiet()).exitCode === 0) return;
    await Bun.sleep(50);
  }
  throw new Error("the agent did not become healthy within 10 s");
}

async function tacon_(description: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  console.log(`    $ tacon --service-endpoint ${socket} ${args.join(" ")}   # ${description}`);
  const result = await $`${tacon} --service-endpoint ${socket} ${args}`.env({ ...process.env, ...env }).nothrow().quiet();
  const output = `${result.stdout}${result.stderr}`.trim();
  console.log(`      ${output.replaceAll("\n", "\n      ")}   [exit ${result.exitCode}]`);
  return result.exitCode;
}

let failed = false;
function expectExit(actual: number, expected: number): void {
  if (actual !== expected) {
    failed = true;
    console.log(`      !! expected exit ${expected}`);
  }
}

try {
  if (!existsSync(agent)) {
    step("Building the executables (npm run build)");
    await $`${process.execPath} ${root}scripts/build.ts`;
  }
  step("Starting two upstream TACACS+ servers");
  const preferred = await startTestServer("preferred");
  const backup = await startTestServer("backup");

  step("Starting tacacsrs-agentd in front of them");
  const args = ["--server-addr", `127.0.0.1:${preferred.port}`, "--server-addr", `127.0.0.1:${backup.port}`, "--listen-endpoint", socket, "--connect-timeout-seconds", "2", "-vv"];
  console.log(`    $ TACACSRS_SHARED_SECRET=... tacacsrs-agentd ${args.join(" ")}`);
  const daemon = Bun.spawn([agent, ...args], { env: { ...process.env, TACACSRS_SHARED_SECRET: SECRET }, stdout: "inherit", stderr: "inherit" });
  children.push(daemon);
  await waitForHealthy();

  step("Accounting, authorization and authentication through the agent");
  const who = ["--user", "alice", "--port", "tty0", "--rem-addr", "10.0.0.1"];
  expectExit(await tacon_("record a command", [...who, "accounting", "show version"]), 0);
  expectExit(await tacon_("permitted command", [...who, "authorization", "show version"]), 0);
  expectExit(await tacon_("denied command", [...who, "authorization", "show running-config"]), 1);
  expectExit(await tacon_("PAP login, password from TACON_PASSWORD", [...who, "authentication"], { TACON_PASSWORD: "alicepw" }), 0);
  expectExit(await tacon_("wrong password", [...who, "authentication"], { TACON_PASSWORD: "wrong" }), 1);

  step("Stopping the preferred server: the agent fails over to the backup");
  preferred.process.kill("SIGTERM");
  await preferred.process.exited;
  expectExit(await tacon_("answered by the backup", [...who, "accounting", "show version"]), 0);
  expectExit(await tacon_("failover state and counters", ["status"]), 0);

  step("Stopping the agent (SIGTERM drains and removes its socket)");
  daemon.kill("SIGTERM");
  console.log(`    agent exited with ${await daemon.exited}; socket removed: ${!existsSync(socket)}`);
} catch (error) {
  failed = true;
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((child) => child.exited));
  rmSync(work, { recursive: true, force: true });
}
console.log(failed ? "\ndemo: some steps did not behave as expected" : "\ndemo: done");
process.exit(failed ? 1 : 0);
