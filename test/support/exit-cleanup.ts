/**
 * The safety net of harnesses that touch the system (users, /etc/pam.d files): synchronous
 * cleanups that run when the test process exits without the test's own finally/afterAll having
 * run them (a crash, a timeout that kills the file, Ctrl-C). Returns the function that cancels
 * the hook once the harness cleaned up itself.
 */
const pending = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const cleanup of [...pending]) {
    pending.delete(cleanup);
    try {
      cleanup();
    } catch (error) {
      process.stderr.write(`exit cleanup failed: ${(error as Error).message}\n`);
    }
  }
}

export function onExitCleanup(cleanup: () => void): () => void {
  if (!installed) {
    installed = true;
    process.on("exit", runAll);
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        runAll();
        process.exit(128 + (signal === "SIGINT" ? 2 : 15));
      });
    }
  }
  pending.add(cleanup);
  return () => pending.delete(cleanup);
}
