/** A Logger that keeps every line as "level text", for assertions on what was (not) logged. */
import type { Logger } from "../../src/common/log";

export interface CapturingLogger extends Logger {
  lines: string[];
}

export function capturingLogger(): CapturingLogger {
  const lines: string[] = [];
  const record =
    (level: string) =>
    (...args: unknown[]): void => {
      lines.push(`${level} ${args.map(String).join(" ")}`);
    };
  // level 5 (consola's trace): code that checks tracing() records its trace lines too.
  return { lines, level: 5, error: record("error"), warn: record("warn"), info: record("info"), debug: record("debug"), trace: record("trace") } as unknown as CapturingLogger;
}
