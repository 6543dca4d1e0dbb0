/**
 * Throughput of the gRPC shim alone: the API server with an instant fake engine on loopback TCP,
 * loaded by h2load (nghttp2-client) with pre-encoded Accounting requests.
 *   bun scripts/bench/api-shim.ts [requests=50000] [connections=4] [streams per connection=16]
 * Prints requests/s and the server's CPU time per call (robust when the machine is busy: the
 * single-core ceiling is 1e6 / µs-per-call), and checks that every call reached the engine.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApiServer } from "../../src/api";
import { encodeMessage } from "../../src/api/framing";
import { apiType } from "../../src/api/proto";
import { FakeEngine } from "../../test/support/api-fake-engine";

const [requests = 50_000, connections = 4, streams = 16] = process.argv.slice(2).map(Number);
const engine = new FakeEngine();
const api = await startApiServer({
  engine,
  endpoint: { kind: "tcp", host: "127.0.0.1", port: 0 },
  socketMode: 0o660,
  limits: { maxApiStreams: 1024, maxGrpcMessageBytes: 4 * 1024 * 1024 },
});
// The fake engine keeps its requests for tests; here only the count matters.
let calls = 0;
engine.requests.push = () => ++calls;

const dir = mkdtempSync(join(tmpdir(), "api-bench-"));
const body = join(dir, "accounting.bin");
const AccountingRequest = apiType("tacacsrs.agent.v1.AccountingRequest");
writeFileSync(body, encodeMessage(AccountingRequest.encode({ user: "admin", port: "tty0", remoteAddress: "10.0.0.1", command: "show", commandArguments: ["version"] }).finish()));
const port = (api.endpoint as { port: number }).port;
try {
  const cpuBefore = process.cpuUsage();
  const h2load = Bun.spawn(
    ["h2load", "-n", String(requests), "-c", String(connections), "-m", String(streams), "-d", body,
     "-H", "content-type: application/grpc", "-H", "te: trailers", `http://127.0.0.1:${port}/tacacsrs.agent.v1.TacacsAgent/Accounting`],
    { stdout: "pipe", stderr: "pipe" },
  );
  const output = await new Response(h2load.stdout).text();
  await h2load.exited;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuPerCallUs = (cpu.user + cpu.system) / requests;
  const rate = /finished in ([\d.]+\w+), ([\d.]+) req\/s/.exec(output);
  const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(output);
  if (rate === null || done === null) throw new Error(`unexpected h2load output:\n${output}`);
  console.log(`api shim: ${rate[2]} req/s (${requests} calls, ${connections} connections x ${streams} streams, ${rate[1]}); ` +
    `${done[2]} succeeded, ${done[3]} failed, ${calls} reached the engine; ` +
    `server CPU ${cpuPerCallUs.toFixed(1)} µs/call (single-core ceiling ${Math.round(1e6 / cpuPerCallUs)} calls/s)`);
  if (calls !== requests || Number(done[3]) !== 0) process.exitCode = 1;
} finally {
  await api.close(0);
  rmSync(dir, { recursive: true, force: true });
}
