/**
 * Debian's OpenSSH server on a loopback port, for tests of host logins through PAM: its own
 * config, host key and pid file in a temp dir, and its own PAM service. sshd names its PAM
 * service after the name it was invoked by (auth-pam.c: SSHD_PAM_SERVICE is __progname), so it
 * runs through a symlink named like the test's /etc/pam.d file. `stop()` kills it and removes the
 * PAM file and the temp dir, also after a failed test (call it in finally/afterAll).
 * Root only. `sshLogin` is the client side: ssh + sshpass with a password.
 *
 *   const user = await createSystemUser("tacacsrs-t17a");
 *   const sshd = await startSshd({ pamService: "tacacsrs-test-17-sshd", pam: "auth required pam_permit.so\n..." });
 *   try {
 *     const r = await sshLogin({ port: sshd.port, user: user.name, password: "pw", command: "id -un" });
 *     // r.exit === 0, r.stdout === "tacacsrs-t17a\n"
 *   } finally { await sshd.stop(); await user.remove(); }
 */
import { type Subprocess } from "bun";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installPamService, type PamService } from "./pam-service";
import { freeLoopbackPort } from "./wait";

export const SSHD_BINARY = "/usr/sbin/sshd";

export interface SshdOptions {
  /** The PAM service name (/etc/pam.d/<name>), "tacacsrs-test-<issue>-…". */
  pamService: string;
  /** The content of that PAM file. */
  pam: string;
  /** Extra sshd_config lines (they come first: for most keywords sshd keeps the first value). */
  config?: string[];
}

export interface Sshd {
  readonly port: number;
  readonly dir: string;
  readonly pamFile: PamService;
  /** sshd's log so far (-e: stderr), for assertions and failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Why sshd tests cannot run here, or undefined. */
export function sshdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (sshd, /etc/pam.d)";
  if (!Bun.which(SSHD_BINARY)) return "openssh-server is not installed";
  for (const tool of ["ssh", "ssh-keygen", "sshpass"]) if (!Bun.which(tool)) return `${tool} is not installed (openssh-client, sshpass)`;
  return undefined;
}

/** For describe.skipIf: true when sshd tests can run; outside CI a reason is printed, in CI (CI=true) it throws. */
export function sshdRunnable(): boolean {
  const why = sshdUnavailable();
  if (why === undefined) return true;
  if (process.env.CI === "true") throw new Error(`sshd tests: ${why} (required in CI; see .ci/run)`);
  console.warn(`sshd tests: ${why}: skipping`);
  return false;
}

function sshdConfig(dir: string, port: number, extra: string[]): string {
  return [
    ...extra,
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${dir}/host_ed25519`,
    `PidFile ${dir}/sshd.pid`,
    "UsePAM yes",
    "PasswordAuthentication yes",
    "KbdInteractiveAuthentication yes",
    "PubkeyAuthentication no",
    "AuthorizedKeysFile none",
    "PermitRootLogin no",
    "StrictModes no",
    "UseDNS no",
    "PrintMotd no",
    "PrintLastLog no",
    "MaxAuthTries 2",
    "LoginGraceTime 30",
    "LogLevel VERBOSE",
    "",
  ].join("\n");
}

export async function startSshd(options: SshdOptions): Promise<Sshd> {
  const why = sshdUnavailable();
  if (why) throw new Error(`cannot start sshd: ${why}`);
  const dir = mkdtempSync(join(tmpdir(), `${options.pamService}-`));
  chmodSync(dir, 0o755);
  let pamFile: PamService | undefined;
  let child: Subprocess<"ignore", "ignore", "pipe"> | undefined;
  let log = "";
  const cleanup = async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child!.kill("SIGKILL"), 5_000);
      await child.exited;
      clearTimeout(timer);
    }
    pamFile?.remove();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Debian creates the privilege separation directory at boot (tmpfiles), not at install.
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const keygen = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", `${dir}/host_ed25519`], { stderr: "pipe" });
    if (keygen.exitCode !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr.toString()}`);
    const port = freeLoopbackPort();
    writeFileSync(`${dir}/sshd_config`, sshdConfig(dir, port, options.config ?? []));
    pamFile = installPamService(options.pamService, options.pam);
    // sshd re-executes itself and must be started by an absolute path; the symlink's name is the PAM service.
    const binary = join(dir, options.pamService);
    symlinkSync(SSHD_BINARY, binary);
    const test = Bun.spawnSync([binary, "-t", "-f", `${dir}/sshd_config`], { stderr: "pipe" });
    if (test.exitCode !== 0) throw new Error(`sshd -t rejected the config: ${test.stderr.toString()}`);
    child = Bun.spawn([binary, "-D", "-e", "-f", `${dir}/sshd_config`], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const started = child;
    void (async () => {
      for await (const chunk of started.stderr) log += new TextDecoder().decode(chunk);
    })();
    const until = Date.now() + 10_000;
    while (!log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
      if (started.exitCode !== null || Date.now() > until) throw new Error(`sshd did not start (exit ${started.exitCode}):\n${log}`);
      await Bun.sleep(10);
    }
    return { port, dir, pamFile, output: () => log, stop: cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

export interface SshLogin {
  port: number;
  user: string;
  password: string;
  /** The remote command (run by the user's shell). */
  command: string;
  timeoutMs?: number;
}

/**
 * ssh with a password through sshpass (SSHPASS in the environment, not argv), no host key
 * checks, password and keyboard-interactive only, one prompt: a wrong password fails at once.
 */
export async function sshLogin(login: SshLogin): Promise<{ exit: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  const child = Bun.spawn(
    [
      "sshpass", "-e", "ssh", "-p", String(login.port), "-T",
      "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "PreferredAuthentications=keyboard-interactive,password", "-o", "PubkeyAuthentication=no",
      "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "-o", "BatchMode=no",
      `${login.user}@127.0.0.1`, login.command,
    ],
    { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", SSHPASS: login.password }, stdin: "ignore", stdout: "pipe", stderr: "pipe" },
  );
  const timer = setTimeout(() => child.kill("SIGKILL"), login.timeoutMs ?? 30_000);
  const [stdout, stderr, exit] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  clearTimeout(timer);
  return { exit, stdout, stderr, ms: performance.now() - started };
}
