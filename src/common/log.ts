/**
 * The daemon's logger: consola with the reference's verbosity scale.
 * -v warnings, -vv info, -vvv debug, -vvvv trace; errors are always shown.
 * Log calls take values, never secrets: a Secret prints as "[redacted]" anyway.
 */
import { createConsola, type ConsolaInstance } from "consola";

/** consola levels: 0 error, 1 warn, 3 info, 4 debug, 5 trace. */
const LEVEL_BY_VERBOSITY = [0, 1, 3, 4, 5] as const;
const TRACE_LEVEL = 5;

export function consolaLevel(verbosity: number): number {
  const index = Math.max(0, Math.min(verbosity, LEVEL_BY_VERBOSITY.length - 1));
  return LEVEL_BY_VERBOSITY[index]!;
}

export type Logger = Pick<ConsolaInstance, "error" | "warn" | "info" | "debug" | "trace">;

const root: ConsolaInstance = createConsola({ level: consolaLevel(0), stdout: process.stderr, stderr: process.stderr });
/** consola copies its options into each tagged child, so the level is pushed to every child. */
const children: ConsolaInstance[] = [];

/** Sets the verbosity for every logger created before or after. */
export function setVerbosity(verbosity: number): void {
  root.level = consolaLevel(verbosity);
  for (const child of children) child.level = root.level;
}

/**
 * consola's "trace" type appends a stack trace to every line (no stack traces to operators); ours
 * prints like debug, at trace level only.
 */
function traceWithoutStack(child: ConsolaInstance): ConsolaInstance["trace"] {
  const enabled = () => child.level >= TRACE_LEVEL;
  const trace = (...args: unknown[]) => void (enabled() && child.debug(...(args as [unknown])));
  const raw = (...args: unknown[]) => void (enabled() && child.debug.raw(...(args as [unknown])));
  return Object.assign(trace, { raw });
}

/** True when `log` prints trace lines: per-packet code checks it before building the message. */
export function tracing(log: Logger): boolean {
  return ((log as { level?: number }).level ?? 0) >= TRACE_LEVEL;
}

export function logger(tag: string): Logger {
  const child = root.withTag(tag);
  child.trace = traceWithoutStack(child);
  children.push(child);
  return child as unknown as Logger;
}

/** A logger that drops everything, for tests and library use. */
const ignore = Object.assign(() => {}, { raw: () => {} });
export const silentLogger: Logger = { error: ignore, warn: ignore, info: ignore, debug: ignore, trace: ignore };
