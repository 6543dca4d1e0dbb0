/**
 * The shipped systemd unit's hardening, proven on the compiled agent without systemd as PID 1:
 * systemd-analyze scores the unit, then the agent runs under the unit's own restrictions
 * (test/support/service-sandbox.ts: system-call filter, ProtectProc/ProcSubset, PrivateMounts,
 * UMask, an unprivileged user with only CAP_NET_BIND_SERVICE, no new privileges) and serves the
 * API, the proxy on a port below 1024, a TLS upstream, secrets through $CREDENTIALS_DIRECTORY
 * (LoadCredential=), and a reload that rotates a credential.
 */
import { $ } from "bun";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Endpoint } from "../../src/common/endpoint";
import { AuthenStatus } from "../../src/protocol";
import { startAgent } from "../support/agent-process";
import { papLogin } from "../support/legacy-client";
import { havePeer } from "../support/peer";
import { testPki, type Pki } from "../support/pki";
import { serviceSandbox } from "../support/service-sandbox";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";

const root = new URL("../..", import.meta.url).pathname;
const unit = readFileSync(`${root}packaging/systemd/tacacsrs-agentd.service`, "utf8");
const seccompExec = `${root}test/support/seccomp-exec.py`;
const USER = "nobody";
const GROUP = "nogroup";
const tools = ["systemd-analyze", "unshare", "setpriv", "python3"].every(havePeer) && pythonSeccomp();
// Generous bounds: the machine is shared (2 cores, often a load of 10+).
setDefaultTimeout(120_000);

function pythonSeccomp(): boolean {
  if (Bun.spawnSync(["/usr/bin/python3", "-c", "import seccomp"]).exitCode === 0) return true;
  if (process.env.CI === "true") throw new Error("python3-seccomp is not installed (required in CI; see .ci/run)");
  console.warn("python3-seccomp is not installed: skipping the hardened-unit tests");
  return false;
}

/** A free TCP port below 1024 on 127.0.0.1: binding it needs CAP_NET_BIND_SERVICE. */
function freePrivilegedPort(): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 600 + Math.floor(Math.random() * 400);
    try {
      Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
      return port;
    } catch {
      // taken: try another
    }
  }
  throw new Error("no free port in 600..999");
}

describe.skipIf(!tools)("the shipped unit's hardening", () => {
  test("systemd-analyze security --offline=true scores the unit at most 2.0", async () => {
    const report = await $`systemd-analyze security --offline=true ${root}packaging/systemd/tacacsrs-agentd.service`.nothrow().quiet();
    const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(`${report.stdout}`)?.[1]);
    expect(score).toBeLessThanOrEqual(2.0);
    for (const line of ["SystemCallFilter=@system-service", "SystemCallErrorNumber=EPERM", "ProtectProc=invisible", "ProcSubset=pid", "RemoveIPC=yes", "PrivateMounts=yes", "UMask=0027"]) {
      expect(unit).toContain(`\n${line}\n`);
    }
  });

  describe.skipIf(process.getuid?.() !== 0)("the agent under the unit's restrictions (root: namespaces, setpriv)", () => {
    let pki: Pki;
    let server: TestServer;
    let dir = "";
    let uid = 0;
    let gid = 0;

    beforeAll(async () => {
      pki = await testPki();
      server = await startTacacsServer({ tls: { cert: pki.server.certPem, key: pki.server.keyPem } });
      uid = Number((await $`id -u ${USER}`.text()).trim());
      gid = Number((await $`getent group ${GROUP}`.text()).split(":")[2]);
      dir = mkdtempSync(join(tmpdir(), "tacacsrs-hardened-20-"));
      chmodSync(dir, 0o755);
    });
    afterAll(async () => {
      await server?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** A file owned by the service user, as systemd hands credentials over (read-only, 0400). */
    function credential(name: string, text: string): void {
      const path = join(dir, "credentials", name);
      rmSync(path, { force: true });
      writeFileSync(path, text, { mode: 0o400 });
      chownSync(path, uid, gid);
    }

    test("system calls outside the filter, and socket families outside RestrictAddressFamilies, fail with EPERM", async () => {
      const sandbox = await serviceSandbox(unit, USER, GROUP, dir);
      const allowed = join(dir, "allowed-syscalls");
      expect(sandbox.prefix[0]).toBe("unshare");
      // root could set its groups and open a netlink socket; under the filter both are refused.
      for (const code of ["import os; os.setgroups(os.getgroups())", "import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)"]) {
        const run = await $`/usr/bin/python3 ${seccompExec} ${allowed} 1,2,10 -- /usr/bin/python3 -c ${code}`.nothrow().quiet();
        expect({ code, exit: run.exitCode, refused: `${run.stderr}`.includes("Operation not permitted") }).toEqual({ code, exit: 1, refused: true });
      }
      const fine = await $`/usr/bin/python3 ${seccompExec} ${allowed} 1,2,10 -- /usr/bin/python3 -c ${"import socket; socket.socket(socket.AF_INET6, socket.SOCK_STREAM)"}`.nothrow().quiet();
      expect(fine.exitCode).toBe(0);
    });

    test("API, proxy on a privileged port, TLS upstream, credentials and reload all work", async () => {
      const sandbox = await serviceSandbox(unit, USER, GROUP, dir);
      // What systemd would prepare: the runtime directory and the credentials, owned by the user.
      const run = join(dir, "run");
      mkdirSync(run, { mode: 0o750 });
      chownSync(run, uid, gid);
      mkdirSync(join(dir, "credentials"), { mode: 0o500 });
      chownSync(join(dir, "credentials"), uid, gid);
      credential("proxy-shared-secret", "first-proxy-secret-0123\n");
      cpSync(pki.ca.certPath, join(dir, "ca.pem"));
      chmodSync(join(dir, "ca.pem"), 0o644);
      const proxyPort = freePrivilegedPort();
      const proxy: Endpoint = { kind: "tcp", host: "127.0.0.1", port: proxyPort };
      // prettier-ignore
      const agent = await startAgent([
        "--server-addr", `127.0.0.1:${server.port}`, "--use-tls", "--ca-certificate", join(dir, "ca.pem"),
        "--listen-endpoint", join(run, "tacacs.sock"), "--socket-mode", "660",
        "--proxy-endpoint", `127.0.0.1:${proxyPort}`, "-vv",
      ], { CREDENTIALS_DIRECTORY: join(dir, "credentials") }, { prefix: sandbox.prefix, dir });
      const pid = agent.process.pid;
      try {
        // The restrictions are in force on the agent process itself.
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        expect(status).toMatch(/^Uid:\s+(\d+)\s/m);
        expect(Number(/^Uid:\s+(\d+)/m.exec(status)![1])).toBe(uid);
        expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
        expect(status).toMatch(/^Seccomp:\s+2$/m);
        expect(status).toMatch(/^CapEff:\s+0000000000000400$/m); // CAP_NET_BIND_SERVICE only
        expect(status).toMatch(/^CapBnd:\s+0000000000000400$/m);
        const mounts = readFileSync(`/proc/${pid}/mountinfo`, "utf8");
        expect(mounts).toMatch(/ \/proc .* proc proc rw,.*hidepid=invisible.*subset=pid/);
        // UMask=0027 does not narrow the socket: the agent sets --socket-mode itself.
        expect(statSync(join(run, "tacacs.sock")).mode & 0o777).toBe(0o660);

        const exercise = async (proxySecret: string) => {
          expect((await agent.tacon(["authentication", "--user", "alice"], { TACON_PASSWORD: "alicepw" })).exit).toBe(0);
          const before = server.records.length;
          expect((await agent.tacon(["accounting", "--user", "alice", "show version"])).exit).toBe(0);
          expect(server.records.length).toBe(before + 1);
          const login = await papLogin({ endpoint: proxy, key: new TextEncoder().encode(proxySecret) }, "alice", "alicepw");
          expect(login.last.status).toBe(AuthenStatus.Pass);
        };
        await exercise("first-proxy-secret-0123");

        // Reload (ExecReload= sends SIGHUP): the rotated credential is read again under the filter.
        credential("proxy-shared-secret", "second-proxy-secret-0123\n");
        process.kill(pid, "SIGHUP");
        const until = Date.now() + 30_000;
        while (!agent.output().includes("configuration reloaded")) {
          if (Date.now() > until || agent.process.exitCode !== null) throw new Error(`no reload:\n${agent.output()}`);
          await Bun.sleep(50);
        }
        await exercise("second-proxy-secret-0123");
      } finally {
        expect(await agent.stop()).toBe(0);
      }
      expect(agent.output()).not.toContain("proxy-secret-0123");
      expect(agent.output()).not.toContain("Operation not permitted");
      // RemoveIPC=yes would have nothing to remove: the agent leaves no IPC object behind.
      expect(readdirSync("/dev/shm").filter((name) => statSync(join("/dev/shm", name)).uid === uid)).toEqual([]);
      const ipcs = await $`ipcs -c`.nothrow().quiet().text();
      expect(ipcs.split("\n").filter((line) => line.split(/\s+/).includes(USER))).toEqual([]);
    });
  });
});
