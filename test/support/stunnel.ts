/**
 * stunnel4 as a TLS 1.3 server in front of a local TCP port, for interop tests
 * (certificate TLS, mTLS, PSK through PSKsecrets).
 *
 *   const tunnel = await startStunnel({
 *     connect: backendPort,
 *     files: { "psk.txt": "client-id:0123456789abcdef0123" },
 *     service: { PSKsecrets: "{dir}/psk.txt", ciphersuites: "TLS_AES_128_GCM_SHA256" },
 *   });
 *   ... connect to 127.0.0.1:tunnel.port ...
 *   tunnel.stop();
 *
 * Runs in the foreground with a temp config, pid file and the given files in a private temp dir
 * ("{dir}" in any option value is replaced by that dir); stop() kills it and removes the dir.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeLoopbackPort } from "./wait";

export type StunnelValue = string | number | boolean | readonly string[];

export interface StunnelOptions {
  /** The plaintext backend: a port on 127.0.0.1 or "host:port". */
  connect: number | string;
  /** Service-level options (cert, key, CAfile, verifyChain, requireCert, PSKsecrets, ciphersuites, options ...). An array repeats the key. */
  service?: Record<string, StunnelValue>;
  /** Global options (e.g. debug). */
  global?: Record<string, StunnelValue>;
  /** Files written into the temp dir (mode 0600) before start, e.g. a PSKsecrets file. */
  files?: Record<string, string>;
  /** Startup limit. */
  startTimeoutMs?: number;
}

export interface Stunnel {
  host: string;
  port: number;
  /** stunnel's log so far (what it said about refused handshakes, for assertions and debugging). */
  log(): string;
  stop(): void;
}

const DEFAULT_SERVICE: Record<string, StunnelValue> = {
  sslVersionMin: "TLSv1.3",
  sslVersionMax: "TLSv1.3",
};

export async function startStunnel(options: StunnelOptions): Promise<Stunnel> {
  const dir = mkdtempSync(join(tmpdir(), "agentd-stunnel-"));
  try {
    for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), content, { mode: 0o600 });
    // stunnel cannot report an ephemeral port: pick a free one, retry if another process took it first.
    for (let attempt = 0; ; attempt++) {
      const port = freeLoopbackPort();
      const tunnel = await launch(dir, port, options).catch((error: Error) => error);
      if (!(tunnel instanceof Error)) return tunnel;
      if (attempt >= 2 || !/Address already in use|bind/i.test(tunnel.message)) throw tunnel;
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launch(dir: string, port: number, options: StunnelOptions): Promise<Stunnel> {
  const configPath = join(dir, "stunnel.conf");
  const connect = typeof options.connect === "number" ? `127.0.0.1:${options.connect}` : options.connect;
  const config = [
    ...lines({ foreground: "yes", pid: join(dir, "stunnel.pid"), debug: 5, ...options.global }, dir),
    "[test]",
    ...lines({ accept: `127.0.0.1:${port}`, connect, ...DEFAULT_SERVICE, ...options.service }, dir),
  ].join("\n");
  writeFileSync(configPath, `${config}\n`, { mode: 0o600 });

  const child = Bun.spawn(["stunnel4", configPath], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  let log = "";
  const ready = Promise.withResolvers<void>();
  (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      log += decoder.decode(chunk, { stream: true });
      if (log.includes("Configuration successful")) ready.resolve();
    }
    ready.reject(new Error(`stunnel exited during start:\n${log}`));
  })();
  const limit = options.startTimeoutMs ?? 5_000;
  const timer = setTimeout(() => ready.reject(new Error(`stunnel did not start within ${limit} ms:\n${log}`)), limit);
  try {
    await ready.promise;
  } catch (error) {
    child.kill();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    host: "127.0.0.1",
    port,
    log: () => log,
    stop() {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function lines(options: Record<string, StunnelValue>, dir: string): string[] {
  return Object.entries(options).flatMap(([key, value]) => {
    const values = Array.isArray(value) ? value : [value];
    return values.map((one) => `${key} = ${render(one, dir)}`);
  });
}

function render(value: string | number | boolean, dir: string): string {
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value).replaceAll("{dir}", dir);
}
