import { expect, test } from "bun:test";

const defects = new URL("./defects.ts", import.meta.url).pathname;
const log = new URL("../common/log.ts", import.meta.url).pathname;

/** Runs `body` in a child with the guard installed; returns its exit status and stderr. */
async function child(body: string): Promise<{ code: number; stderr: string }> {
  const script = `import { guardAgainstDefects } from ${JSON.stringify(defects)};
import { logger } from ${JSON.stringify(log)};
guardAgainstDefects(logger("daemon"));
${body}`;
  const run = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(run.stderr).text(), run.exited]);
  return { code, stderr };
}

test("an uncaught exception: one log line, no stack, exit 70", async () => {
  const { code, stderr } = await child(`setTimeout(() => { throw new Error("boom-defect"); }, 1);`);
  expect(code).toBe(70);
  expect(stderr).toContain("internal error, exiting: boom-defect");
  expect(stderr).not.toMatch(/\n\s+at /);
});

test("a stray rejection: one log line, and the process carries on", async () => {
  const { code, stderr } = await child(`void Promise.reject(new Error("stray-rejection"));
setTimeout(() => process.stderr.write("still-running\\n"), 50);`);
  expect(code).toBe(0);
  expect(stderr).toContain("internal error (ignored): stray-rejection");
  expect(stderr).toContain("still-running");
});
