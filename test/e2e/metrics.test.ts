/**
 * The metrics endpoint of the compiled agent (issue 16): a scrape while 64 callers run counts
 * exactly the requests sent; Debian's promtool accepts the Prometheus text output, and Debian's
 * Prometheus server scrapes the endpoint in OpenMetrics (what it asks for first) with the
 * packaged example configuration; promtool accepts the packaged alert rules; bad requests get
 * 404/405/431.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { accountingBody, ACCOUNTING_PATH, GrpcClient, isResponse } from "../../scripts/bench/grpc-client";
import { X509Certificate } from "node:crypto";
import { startAgent, type AgentProcess } from "../support/agent-process";
import { testPki } from "../support/pki";
import { papLogin } from "../support/legacy-client";
import { AuthenStatus } from "../../src/protocol";
import { havePeer } from "../support/peer";
import { startStunnel, type Stunnel } from "../support/stunnel";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";
import { HANDSHAKE_FAILURE_REASONS } from "../../src/transport/handshake-failure";
import { freeLoopbackPort } from "../support/wait";

const SECRET = "metrics-issue16-secret-0123";
const CALLERS = 64;
const CALLS_PER_CALLER = 20;
const root = new URL("../..", import.meta.url).pathname;
const hasPromtool = havePeer("promtool");
const hasPrometheus = havePeer("prometheus");
const hasStunnel = havePeer("stunnel4");
const PSK_IDENTITY = "metrics16-agent";
const PSK_KEY = "metrics16-psk-key-0123456789";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tacacsrs-metrics16-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function server(): Promise<TestServer> {
  const s = await startTacacsServer({ key: SECRET });
  cleanups.push(() => s.stop());
  return s;
}

async function agent(args: string[]): Promise<AgentProcess> {
  const a = await startAgent([...args, "--shared-secret", SECRET]);
  cleanups.push(() => a.stop());
  return a;
}

/** GET over the agent's metrics Unix socket. */
async function scrape(socket: string, accept?: string): Promise<Response> {
  return fetch("http://localhost/metrics", { unix: socket, headers: accept ? { accept } : {} } as RequestInit);
}

/** The value of one sample line, e.g. `tacacsrs_requests_total{entry_point="api",...}`. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no sample ${series} in:\n${text.slice(0, 2000)}`);
  return Number(line.slice(series.length + 1));
}

const PASSED = 'tacacsrs_requests_total{entry_point="api",type="accounting",outcome="pass"}';

async function promtoolCheckMetrics(text: string): Promise<{ exitCode: number; output: string }> {
  const result = await $`promtool check metrics < ${new Response(text)}`.nothrow().quiet();
  return { exitCode: result.exitCode, output: result.stdout.toString() + result.stderr.toString() };
}

/**
 * promtool 2.42 reads OpenMetrics with the 0.0.4 text parser: it parses it, but lints a counter's
 * `X_total` sample as a family of its own without help (OpenMetrics puts HELP on `X`). Those are
 * the only complaints allowed, each for a counter whose `# HELP X` is there.
 */
function promtoolOpenMetricsComplaints(output: string, text: string): string[] {
  return output.split("\n").filter((line) => {
    if (line === "") return false;
    const total = /^(\w+)_total no help text$/.exec(line);
    return !(total && text.includes(`# TYPE ${total[1]} counter\n`) && text.includes(`# HELP ${total[1]} `));
  });
}

/** Polls an async check (a Prometheus query) every 250 ms. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await Bun.sleep(250);
  }
}

describe("metrics endpoint", () => {
  test("a scrape under 64 concurrent callers counts exactly the requests sent; promtool accepts the output", async () => {
    const one = await server();
    const dir = tempDir();
    const metrics = join(dir, "metrics.sock");
    const a = await agent(["--server-addr", `127.0.0.1:${one.port}`, "--metrics-endpoint", metrics]);
    const before = await (await scrape(metrics)).text();
    const sentBefore = sample(before, `tacacsrs_server_messages_sent_total{server="127.0.0.1:${one.port}"}`);

    const client = new GrpcClient({ kind: "unix", path: a.socket }, 4);
    cleanups.push(async () => client.close());
    await client.ready();
    const body = accountingBody();
    let scrapes = 0;
    let running = true;
    const scraping = (async () => {
      while (running) {
        expect((await scrape(metrics)).status).toBe(200);
        scrapes++;
      }
    })();
    const callers = Array.from({ length: CALLERS }, async () => {
      for (let i = 0; i < CALLS_PER_CALLER; i++) {
        const result = await client.callAsync(ACCOUNTING_PATH, body);
        expect(result.status).toBe(0);
        expect(isResponse(result.message)).toBe(true);
      }
    });
    await Promise.all(callers);
    running = false;
    await scraping;
    expect(scrapes).toBeGreaterThan(0);

    const response = await scrape(metrics);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const after = await response.text();
    const sent = CALLERS * CALLS_PER_CALLER;
    expect(sample(after, PASSED) - sample(before, PASSED)).toBe(sent);
    expect(sample(after, 'tacacsrs_request_duration_seconds_count{entry_point="api",type="accounting"}')).toBe(sent);
    expect(sample(after, 'tacacsrs_requests_in_flight{entry_point="api",type="accounting"}')).toBe(0);
    expect(sample(after, `tacacsrs_server_messages_sent_total{server="127.0.0.1:${one.port}"}`) - sentBefore).toBe(sent);
    expect(sample(after, `tacacsrs_server_reply_duration_seconds_count{server="127.0.0.1:${one.port}",type="accounting"}`)).toBe(sent);
    expect(sample(after, `tacacsrs_server_connect_duration_seconds_count{server="127.0.0.1:${one.port}",security="tcp"}`)).toBe(
      sample(after, `tacacsrs_server_connection_opens_total{server="127.0.0.1:${one.port}"}`),
    );
    expect(one.records.length).toBe(sent);
    expect(sample(after, 'tacacsrs_failover_state{state="PreferredActive"}')).toBe(1);
    expect(sample(after, "tacacsrs_metrics_scrapes_total")).toBe(scrapes + 2);
    expect(after).not.toContain(SECRET);
    if (hasPromtool) {
      const checked = await promtoolCheckMetrics(after);
      expect(checked.output).toBe("");
      expect(checked.exitCode).toBe(0);
    }

    const om = await scrape(metrics, "application/openmetrics-text; version=1.0.0");
    expect(om.headers.get("content-type")).toBe("application/openmetrics-text; version=1.0.0; charset=utf-8");
    const omText = await om.text();
    expect(omText.endsWith("# EOF\n")).toBe(true);
    expect(omText).toContain("# TYPE tacacsrs_requests counter\n");
    expect(omText).toContain("# UNIT tacacsrs_request_duration_seconds seconds\n");
    expect(sample(omText, PASSED)).toBe(sample(after, PASSED));
    if (hasPromtool) {
      const checked = await promtoolCheckMetrics(omText);
      expect(promtoolOpenMetricsComplaints(checked.output, omText)).toEqual([]);
      expect(checked.exitCode === 0 || checked.exitCode === 3).toBe(true); // 3: lint findings only, 1 would be a parse error
    }
  }, 60_000);

  test("bad requests: 404, 405 with Allow, 431 for an oversized head; the socket keeps the --socket-mode", async () => {
    const one = await server();
    const dir = tempDir();
    const metrics = join(dir, "metrics.sock");
    await agent(["--server-addr", `127.0.0.1:${one.port}`, "--metrics-endpoint", metrics, "--socket-mode", "600"]);
    expect((await fetch("http://localhost/nope", { unix: metrics } as RequestInit)).status).toBe(404);
    const post = await fetch("http://localhost/metrics", { unix: metrics, method: "POST", body: "x" } as RequestInit);
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    const big = await fetch("http://localhost/metrics", { unix: metrics, headers: { "x-filler": "a".repeat(10_000) } } as RequestInit);
    expect(big.status).toBe(431);
    const head = await fetch("http://localhost/metrics", { unix: metrics, method: "HEAD" } as RequestInit);
    expect(head.status).toBe(200);
    expect(statSync(metrics).mode & 0o777).toBe(0o600);
    expect(sample(await (await scrape(metrics)).text(), "tacacsrs_metrics_rejected_requests_total")).toBe(3);
  }, 30_000);

  test("certificate expiry: a gauge per certificate, a warning at start and on SIGHUP within --certificate-expiry-warning-days", async () => {
    const pki = await testPki();
    const dir = tempDir();
    const metrics = join(dir, "metrics.sock");
    // Nothing listens on the server's port: the agent starts all the same and dates its certificates.
    const a = await startAgent([
      "--server-addr", "127.0.0.1:1", "--use-tls", "--ca-certificate", pki.ca.certPath,
      "--client-certificate", pki.clientEc.certPath, "--client-key", pki.clientEc.keyPath,
      "--certificate-expiry-warning-days", "400", "--metrics-endpoint", metrics, "-v",
    ]);
    cleanups.push(() => a.stop());
    const text = await (await scrape(metrics)).text();
    const notAfter = (pem: string) => Math.floor(Date.parse(new X509Certificate(pem).validTo) / 1000);
    const series = (role: string, cn: string) => {
      const line = text.split("\n").find((l) => l.startsWith("tacacsrs_certificate_not_after_timestamp_seconds{") && l.includes(`role="${role}"`) && l.includes(`CN=${cn}`));
      return Number(line?.split(" ").at(-1));
    };
    expect(series("client", "agentd-client-ec")).toBe(notAfter(pki.clientEc.certPem));
    expect(series("ca", new X509Certificate(pki.ca.certPem).subject.replace("CN=", ""))).toBe(notAfter(pki.ca.certPem));
    if (hasPromtool) expect((await promtoolCheckMetrics(text)).exitCode).toBe(0);
    const warnings = () => a.output().split("\n").filter((line) => line.includes("client certificate CN=agentd-client-ec expires on")).length;
    expect(warnings()).toBe(1);
    a.process.kill("SIGHUP");
    const until = Date.now() + 10_000;
    while (warnings() < 2 && Date.now() < until) await Bun.sleep(50);
    expect(warnings()).toBe(2);
  }, 30_000);

  test("with the accounting spool: its depth, and the record queued while no server answers", async () => {
    const dir = tempDir();
    const spoolDir = join(dir, "spool");
    mkdirSync(spoolDir, { mode: 0o700 });
    const metrics = join(dir, "metrics.sock");
    const a = await agent(["--server-addr", "127.0.0.1:1", "--accounting-spool-dir", spoolDir, "--metrics-endpoint", metrics]);
    expect((await a.tacon(["--user", "alice", "accounting", "show version"])).stdout).toContain("QUEUED");
    const text = await (await scrape(metrics)).text();
    expect(sample(text, "tacacsrs_accounting_spool_records")).toBe(1);
    expect(sample(text, "tacacsrs_accounting_spool_appended_total")).toBe(1);
    expect(sample(text, "tacacsrs_accounting_spool_bytes")).toBeGreaterThan(0);
    if (hasPromtool) expect((await promtoolCheckMetrics(text)).output).toBe("");
  }, 30_000);

  test("the proxy: its requests by type and outcome in the metrics and in tacon status", async () => {
    const one = await server();
    const dir = tempDir();
    const metrics = join(dir, "metrics.sock");
    const proxy = join(dir, "proxy.sock");
    const a = await agent(["--server-addr", `127.0.0.1:${one.port}`, "--proxy-endpoint", proxy, "--metrics-endpoint", metrics]);
    const client = { endpoint: { kind: "unix", path: proxy } as const, key: new TextEncoder().encode(SECRET) };
    expect((await papLogin(client, "alice", "alicepw")).last.status).toBe(AuthenStatus.Pass);
    expect((await papLogin(client, "alice", "wrongpw")).last.status).toBe(AuthenStatus.Fail);
    const text = await (await scrape(metrics)).text();
    expect(sample(text, 'tacacsrs_requests_total{entry_point="proxy",type="authentication",outcome="pass"}')).toBe(1);
    expect(sample(text, 'tacacsrs_requests_total{entry_point="proxy",type="authentication",outcome="fail"}')).toBe(1);
    expect(sample(text, 'tacacsrs_connections_total{entry_point="proxy"}')).toBe(2);
    const status = await a.tacon(["status"]);
    expect(status.stdout).toContain("proxy: 2 connections (0 open, 0 refused); authentication 1 pass, 1 fail");
    expect(JSON.parse((await a.tacon(["status", "--json"])).stdout).proxy.authentication).toMatchObject({ pass: 1, fail: 1, inFlight: 0 });
  }, 30_000);

  test.skipIf(!hasStunnel)("TLS handshake failures by reason: as many as the peers saw, for an untrusted or misnamed certificate, a missing client certificate, a silent server, a wrong PSK key or identity", async () => {
    const pki = await testPki();
    const backend = await server(); // behind the tunnels; no handshake gets that far
    const tunnel = async (service: Record<string, string>, pskSecrets?: string): Promise<Stunnel> => {
      const files: Record<string, string> = pskSecrets ? { "psk.txt": pskSecrets } : {};
      const extra: Record<string, string> = pskSecrets ? { PSKsecrets: "{dir}/psk.txt", ciphersuites: "TLS_AES_128_GCM_SHA256" } : {};
      const t = await startStunnel({ connect: backend.port, files, service: { ...service, ...extra } });
      cleanups.push(async () => t.stop());
      return t;
    };
    const [untrusted, misnamed, wantsClientCertificate, wrongKey, unknownIdentity] = await Promise.all([
      tunnel({ cert: pki.untrustedServer.certPath, key: pki.untrustedServer.keyPath }),
      tunnel({ cert: pki.wrongNameServer.certPath, key: pki.wrongNameServer.keyPath }),
      tunnel({ cert: pki.server.certPath, key: pki.server.keyPath, CAfile: pki.ca.certPath, requireCert: "yes", verifyChain: "yes" }),
      tunnel({}, `${PSK_IDENTITY}:another-key-0123456789abcdef\n`),
      tunnel({}, `someone-else:${PSK_KEY}\n`),
    ]);
    const accepted = (t: Stunnel) => () => t.log().split("accepted connection from").length - 1;
    // TCP accepted, nothing ever answered: the handshake times out.
    let silentOpens = 0;
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => void silentOpens++, data() {} } });
    cleanups.push(async () => silent.stop(true));

    const dir = tempDir();
    const [certificateMetrics, pskMetrics] = [join(dir, "certificate.sock"), join(dir, "psk.sock")];
    const addr = (port: number) => ["--server-addr", `127.0.0.1:${port}`];
    const [certificateAgent, pskAgent] = await Promise.all([
      agent([...addr(untrusted.port), ...addr(misnamed.port), ...addr(wantsClientCertificate.port), ...addr(silent.port), "--use-tls", "--ca-certificate", pki.ca.certPath, "--connect-timeout-seconds", "1", "--metrics-endpoint", certificateMetrics]),
      agent([...addr(wrongKey.port), ...addr(unknownIdentity.port), "--use-tls", "--psk-identity", PSK_IDENTITY, "--psk-key", PSK_KEY, "--metrics-endpoint", pskMetrics]),
    ]);
    const REQUESTS = 2;
    for (let i = 0; i < REQUESTS; i++) {
      const results = await Promise.all([certificateAgent, pskAgent].map((a) => a.tacon(["--user", "alice", "authorization", "show", "version"])));
      for (const result of results) expect(result.exit).not.toBe(0);
    }

    const cases = [
      { metrics: certificateMetrics, port: untrusted.port, security: "certificate", reason: "certificate_untrusted", seen: accepted(untrusted) },
      { metrics: certificateMetrics, port: misnamed.port, security: "certificate", reason: "hostname_mismatch", seen: accepted(misnamed) },
      { metrics: certificateMetrics, port: wantsClientCertificate.port, security: "certificate", reason: "client_certificate_rejected", seen: accepted(wantsClientCertificate) },
      { metrics: certificateMetrics, port: silent.port, security: "certificate", reason: "handshake_timeout", seen: () => silentOpens },
      { metrics: pskMetrics, port: wrongKey.port, security: "psk-dhe", reason: "psk_bad_binder", seen: accepted(wrongKey) },
      { metrics: pskMetrics, port: unknownIdentity.port, security: "psk-dhe", reason: "psk_unknown_identity", seen: accepted(unknownIdentity) },
    ];
    for (const c of cases) {
      const failures = async () => {
        const text = await (await scrape(c.metrics)).text();
        const series = (reason: string) => `tacacsrs_tls_handshake_failures_total{server="127.0.0.1:${c.port}",security="${c.security}",reason="${reason}"}`;
        const all = HANDSHAKE_FAILURE_REASONS.reduce((sum, reason) => sum + sample(text, series(reason)), 0);
        return { text, counted: sample(text, series(c.reason)), all, connectFailures: sample(text, `tacacsrs_server_connection_failures_total{server="127.0.0.1:${c.port}"}`) };
      };
      // A probe may be under way at a scrape: wait until the agent and the peer agree.
      await eventually(async () => (await failures()).counted === c.seen(), 10_000, `${c.reason} counted as often as the peer saw a handshake (${c.seen()})`);
      const { text, counted, all, connectFailures } = await failures();
      expect(counted).toBeGreaterThanOrEqual(REQUESTS);
      expect([all, connectFailures]).toEqual([counted, counted]);
      if (hasPromtool) expect((await promtoolCheckMetrics(text)).output).toBe("");
    }
  }, 60_000);

  test("a non-loopback --metrics-endpoint is refused", async () => {
    const result = await $`${root}dist/tacacsrs-agentd --server-addr 127.0.0.1:49 --metrics-endpoint 0.0.0.0:9949 --check-config`.nothrow().quiet();
    expect(result.exitCode).toBe(2);
    expect(result.stderr.toString()).toContain("--metrics-endpoint");
    expect(result.stderr.toString()).toContain("not a loopback address");
  });

  test.skipIf(!hasPromtool)("promtool accepts the packaged alert rules and scrape configuration", async () => {
    const rules = await $`promtool check rules ${root}packaging/prometheus/tacacsrs-agentd.rules.yml`.nothrow().quiet();
    expect(rules.stdout.toString()).toContain("SUCCESS: 6 rules found");
    expect(rules.exitCode).toBe(0);
    const config = await $`promtool check config ${root}packaging/prometheus/prometheus.yml`.nothrow().quiet();
    expect(config.exitCode).toBe(0);
  });

  test.skipIf(!hasPromtool)("promtool test rules: the TLS handshake alert fires for a certificate, name or PSK mismatch, not for a timeout", async () => {
    const series = (server: string, reason: string) =>
      `      - series: 'tacacsrs_tls_handshake_failures_total{instance="host1",server="${server}",security="certificate",reason="${reason}"}'\n        values: '0+1x30'`;
    const tests = `rule_files: [${root}packaging/prometheus/tacacsrs-agentd.rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
${series("tacacs1", "hostname_mismatch")}
${series("tacacs2", "handshake_timeout")}
    alert_rule_test:
      - { eval_time: 3m, alertname: TacacsAgentTlsHandshakesRefused, exp_alerts: [] }
      - eval_time: 15m
        alertname: TacacsAgentTlsHandshakesRefused
        exp_alerts:
          - exp_labels: { severity: warning, instance: host1, server: tacacs1, reason: hostname_mismatch }
            exp_annotations:
              summary: "tacacsrs-agentd on host1: TLS handshakes with tacacs1 fail: hostname_mismatch"
              description: "A certificate, server name or PSK does not match between this host and the TACACS+ server; the agent's log names the detail."
`;
    const file = join(tempDir(), "tls-alert.test.yml");
    writeFileSync(file, tests);
    const result = await $`promtool test rules ${file}`.nothrow().quiet();
    expect(result.stdout.toString() + result.stderr.toString()).toContain("SUCCESS");
    expect(result.exitCode).toBe(0);
  });

  test.skipIf(!hasPrometheus)("Debian's Prometheus scrapes the endpoint in OpenMetrics with the packaged configuration", async () => {
    const one = await server();
    const dir = tempDir();
    // The packaged configuration, pointed at this test's ports.
    const [metricsPort, webPort] = [freeLoopbackPort(), freeLoopbackPort()];
    const a = await agent(["--server-addr", `127.0.0.1:${one.port}`, "--metrics-endpoint", `127.0.0.1:${metricsPort}`]);
    expect((await a.tacon(["--user", "alice", "accounting", "show version"])).exit).toBe(0);
    const config = readFileSync(`${root}packaging/prometheus/prometheus.yml`, "utf8")
      .replaceAll("127.0.0.1:9949", `127.0.0.1:${metricsPort}`)
      .replace("scrape_interval: 30s", "scrape_interval: 1s")
      .replace("scrape_timeout: 10s", "scrape_timeout: 1s")
      .replace("tacacsrs-agentd.rules.yml", `${root}packaging/prometheus/tacacsrs-agentd.rules.yml`);
    writeFileSync(join(dir, "prometheus.yml"), config);
    const prometheus = Bun.spawn(
      ["prometheus", `--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${webPort}`],
      { stdout: "ignore", stderr: "ignore" },
    );
    cleanups.push(async () => {
      prometheus.kill("SIGTERM");
      await prometheus.exited;
    });
    const query = async (expr: string): Promise<string | undefined> => {
      const response = await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent(expr)}`).catch(() => undefined);
      const result = response?.ok ? ((await response.json()) as { data: { result: { value: [number, string] }[] } }).data.result : [];
      return result[0]?.value[1];
    };
    await eventually(async () => (await query('up{job="tacacsrs-agentd"}')) === "1", 20_000, "Prometheus scraped the agent");
    // OpenMetrics counters are stored with their _total sample name.
    await eventually(async () => (await query('tacacsrs_requests_total{type="accounting",outcome="pass"}')) === "1", 10_000, "the request counted");
    expect(Number(await query('scrape_samples_scraped{job="tacacsrs-agentd"}'))).toBeGreaterThan(100);
    expect(a.output()).not.toContain("error");
  }, 60_000);
});

