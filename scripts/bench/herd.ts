/**
 * Scenario 8: the thundering herd. 1,000 calls arrive while every upstream connection is down;
 * the test servers' accepted-connection counters must each move by exactly one.
 */
import { LOOPBACK, SHARED_SECRET, type Context } from "./context";
import { ACCOUNTING_PATH, GrpcClient, accountingBody, decodeAccountingReply, isResponse } from "./grpc-client";
import { AgentProcess, ServerProcess } from "./peers";
import { round } from "./stats";

const HERD = 1000;
const SESSIONS = 10;

export async function herd({ report }: Context): Promise<void> {
  const [preferred, backup] = await Promise.all([ServerProcess.start(["--key", SHARED_SECRET]), ServerProcess.start(["--key", SHARED_SECRET])]);
  const agent = await AgentProcess.start([
    "--server-addr", `${LOOPBACK}:${preferred.port}`, "--server-addr", `${LOOPBACK}:${backup.port}`, "--shared-secret", SHARED_SECRET,
    // The default bound of 256 sessions in flight per server would turn most of the herd away as "busy",
    // and 1,000 calls are near the default 1,024 concurrent calls, where each connection gets its fair share only.
    "--connect-timeout-seconds", "2", "--preferred-probe-interval-seconds", "3600", "--max-sessions-in-flight", String(HERD + 24), "--max-api-streams", String(2 * HERD),
  ]);
  const client = new GrpcClient(agent.api, SESSIONS);
  await client.ready();
  const body = accountingBody();
  await client.callAsync(ACCOUNTING_PATH, body); // the agent is connected to the preferred

  const wave = async (name: string, breakConnections: () => Promise<unknown>) => {
    const [p0, b0] = [await preferred.counters(), await backup.counters()];
    await breakConnections();
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: HERD }, () => client.callAsync(ACCOUNTING_PATH, body).catch(() => undefined)));
    const ms = performance.now() - started;
    const ok = results.filter((r) => r !== undefined && r.status === 0 && isResponse(r.message));
    const servers = new Set(ok.map((r) => decodeAccountingReply(r!.message).server));
    const [p1, b1] = [await preferred.counters(), await backup.counters()];
    const attempts = { preferred: p1.connectionsAccepted - p0.connectionsAccepted, backup: b1.connectionsAccepted - b0.connectionsAccepted };
    report.row(8, name, { calls: HERD, ok: ok.length, ms: round(ms, 1), preferredAccepted: attempts.preferred, backupAccepted: attempts.backup, servers: [...servers].join(" ") });
    return { ok: ok.length, attempts };
  };

  // 1: the preferred resets its connections; the herd must share one reconnect to it.
  const first = await wave("1,000 calls after the connection was reset", () => preferred.command({ cmd: "reset" }));
  report.target("herd after a reset: connections accepted by the preferred", first.attempts.preferred, "exact", 1, "connections");
  report.target("herd after a reset: calls answered", first.ok, "min", HERD, "calls");
  // 2: the preferred refuses and drops its connection: one failover connection to the backup.
  const second = await wave("1,000 calls, preferred refusing and reset", async () => {
    await preferred.setFaults({ refuse: true });
    await preferred.command({ cmd: "reset" });
  });
  report.target("herd on failover: connections accepted by the backup", second.attempts.backup, "exact", 1, "connections");
  report.target("herd on failover: calls answered", second.ok, "min", HERD, "calls");
  client.close();
  await agent.stop();
  await Promise.all([preferred.stop(), backup.stop()]);
}
