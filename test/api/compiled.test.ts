/**
 * The API inside a compiled single-file executable: the .proto schemas are embedded text, so the
 * binary works from any directory with no proto/ folder around. Built like scripts/build.ts
 * (compile, minify, bytecode) plus format "esm" (bytecode of a CommonJS bundle rejects the
 * `import.meta` in consola).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "api-compiled-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a compiled program serves and calls the API from another directory", async () => {
  const outfile = join(dir, "api-entry");
  const build = await Bun.build({
    entrypoints: [join(import.meta.dir, "compiled-entry.ts")],
    compile: { outfile },
    minify: true,
    bytecode: true,
    format: "esm",
  });
  expect(build.logs.map(String)).toEqual([]);
  expect(build.success).toBe(true);
  const run = Bun.spawnSync([outfile, join(dir, "agent.sock")], { cwd: "/", timeout: 10_000 });
  expect(run.stderr.toString()).toBe("");
  expect(JSON.parse(run.stdout.toString())).toEqual({
    reply: { result: "response", response: { server: "fake-server", status: "ACCOUNTING_STATUS_SUCCESS", serverMessage: "recorded", data: "", queued: false } },
    health: { status: "SERVING" },
  });
}, 30_000);
