/**
 * An interactive program under a pseudo-terminal, driven like a user at a keyboard: util-linux
 * `script` makes the pty; `expectOutput` waits for text, `type` sends a line.
 */
import type { Subprocess } from "bun";

export interface PtySession {
  /** Resolves once the output so far contains `text`; rejects after `timeoutMs` with the output. */
  expectOutput(text: string, timeoutMs?: number): Promise<void>;
  type(line: string): void;
  output(): string;
  /** The program's exit status (waits, at most `timeoutMs`, then kills it). */
  exited(timeoutMs?: number): Promise<number>;
}

export function startPty(argv: string[], options: { cwd: string; env: Record<string, string> }): PtySession {
  const command = argv.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(" ");
  // -q quiet, -e the child's exit status, -f flush at once, -c the command; the log goes nowhere.
  const child: Subprocess<"pipe", "pipe", "pipe"> = Bun.spawn(["script", "-qefc", command, "/dev/null"], { ...options, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  let text = "";
  const waiters = new Set<() => void>();
  void (async () => {
    for await (const chunk of child.stdout) {
      text += new TextDecoder().decode(chunk);
      for (const wake of waiters) wake();
    }
  })();
  return {
    expectOutput(wanted, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!text.includes(wanted)) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no "${wanted}" within ${timeoutMs} ms; output so far:\n${text}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    type(line) {
      child.stdin.write(`${line}\n`);
      void child.stdin.flush();
    },
    output: () => text,
    async exited(timeoutMs = 10_000) {
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const code = await child.exited;
      clearTimeout(timer);
      return code;
    },
  };
}
