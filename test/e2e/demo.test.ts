/** `npm run demo` is a README command: it must keep working, step by step. */
import { expect, test } from "bun:test";

const root = new URL("../..", import.meta.url).pathname;

test("the demo runs every step as expected and cleans up", async () => {
  const demo = Bun.spawn([process.execPath, `${root}scripts/demo.ts`], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const [stdout, stderr, code] = await Promise.all([new Response(demo.stdout).text(), new Response(demo.stderr).text(), demo.exited]);
  expect({ code, tail: stdout.trim().split("\n").at(-1) }).toEqual({ code: 0, tail: "demo: done" });
  expect(stdout).toContain("PASS_ADD from");
  expect(stdout).toContain("FAIL from");
  expect(stdout).toContain("failover state: FAILED_OVER");
  expect(stdout).toContain("socket removed: true");
  expect(`${stdout}${stderr}`).not.toContain("demo-shared-secret");
}, 60_000);
