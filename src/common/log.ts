/**
 * The daemon's logger: consola with the reference's verbosity scale.
 * -v warnings, -vv info, -vvv debug, -vvvv trace; errors are always shown.
 * Log calls take values, never secrets: a Secret prints as "[redacted]" anyway. A plain object
 * argument is a set of fields (`log.warn("...", { server })`), kept as fields in json lines.
 * Lines go to stderr as log-format.ts says; repeated identical warnings are rate-limited.
 */
import { createConsola, type ConsolaInstance, type LogObject } from "consola";
import { colourAllowed, formatEntry, parts, stderrIsJournal, type LogEntry, type LogFormat, type LogStyle } from "./log-format";
import { REPEAT_WINDOW_MS, RepeatFilter } from "./log-repeats";

/** consola levels: 0 error, 1 warn, 3 info, 4 debug, 5 trace. */
const LEVEL_BY_VERBOSITY = [0, 1, 3, 4, 5] as const;
const TRACE_LEVEL = 5;

export function consolaLevel(verbosity: number): number {
  const index = Math.max(0, Math.min(verbosity, LEVEL_BY_VERBOSITY.length - 1));
  return LEVEL_BY_VERBOSITY[index]!;
}

export type Logger = Pick<ConsolaInstance, "error" | "warn" | "info" | "debug" | "trace">;

const style: LogStyle = {
  format: "text",
  journal: stderrIsJournal(process.env),
  colour: false,
};
style.colour = !style.journal && colourAllowed(process.stderr, process.env);

function write(entry: LogEntry): void {
  process.stderr.write(`${formatEntry(entry, style)}\n`);
}

/** Warnings and errors (consola levels 0 and 1) are rate-limited per identical line. */
const RATE_LIMITED_LEVEL = 1;
const repeats = new RepeatFilter(
  {
    now: () => Date.now(),
    setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
  },
  (key, held) => {
    const { level, tag, line } = JSON.parse(key) as { level: number; tag: string; line: string };
    write({ level, tag, args: [`${line} (repeated ${held} more time${held === 1 ? "" : "s"} in ${REPEAT_WINDOW_MS / 1000} s)`], date: new Date() });
  },
);

const reporter = {
  log(object: LogObject): void {
    const entry: LogEntry = { level: object.level, tag: object.tag, args: object.args, date: object.date };
    if (entry.level <= RATE_LIMITED_LEVEL) {
      if (!repeats.pass(JSON.stringify({ level: entry.level, tag: entry.tag, line: parts(entry.args).message }))) return;
    }
    write(entry);
  },
};

// consola's own throttle only folds consecutive repeats; ours above covers interleaved ones too.
const root: ConsolaInstance = createConsola({ level: consolaLevel(0), reporters: [reporter], throttle: 0 });

/** The daemon's --log-format; journal and colour follow the environment (stderr, NO_COLOR). */
export function configureLogging(format: LogFormat, env: Record<string, string | undefined> = process.env): void {
  style.format = format;
  style.journal = stderrIsJournal(env);
  style.colour = format === "text" && !style.journal && colourAllowed(process.stderr, env);
}

/** After a reload: the same warnings again are news, not repeats. */
export function resetRepeatedWarnings(): void {
  repeats.reset();
}

/** Warning and error lines held back as repeats since start. */
export function heldRepeats(): number {
  return repeats.held;
}
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
