// A tiny program that uses the API module, compiled like scripts/build.ts (compile, minify,
// bytecode) by compiled.test.ts: proves the embedded .proto texts work without files on disk.
// No top-level await: bytecode compilation emits CommonJS.
import { startApiServer } from "../../src/api";
import { callUnary } from "../../src/api/client";
import { FakeEngine } from "../support/api-fake-engine";

async function main(path: string): Promise<void> {
  const api = await startApiServer({
    engine: new FakeEngine(),
    endpoint: { kind: "unix", path },
    socketMode: 0o600,
    limits: { maxApiStreams: 8, maxGrpcMessageBytes: 65536 },
  });
  const reply = await callUnary(api.endpoint, "Accounting", { user: "admin", command: "show" }, 2000);
  const health = await callUnary(api.endpoint, "HealthCheck", {}, 2000);
  console.log(JSON.stringify({ reply, health }));
  await api.close(100);
}

void main(process.argv[2]!);
