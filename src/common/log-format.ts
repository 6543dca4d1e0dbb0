/**
 * How a log line is written, for where it goes:
 * - "text": `[component] level: message`, coloured only on a terminal without NO_COLOR;
 * - "json" (--log-format json): one object per line {time, level, component, message, ...fields}
 *   for log shippers;
 * - journal: when stderr is the systemd journal (JOURNAL_STREAM names it), either format gets the
 *   sd-daemon(3) priority prefix (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug) and text
 *   loses its level word and colour (the journal keeps the priority and its own time stamp), so
 *   `journalctl -p warning` selects by level.
 */
import { fstatSync } from "node:fs";
import { formatWithOptions } from "node:util";

export type LogFormat = "text" | "json";

export interface LogStyle {
  format: LogFormat;
  journal: boolean;
  colour: boolean;
}

/** consola level → [name, sd-daemon priority]. */
const LEVELS: readonly (readonly [string, number])[] = [
  ["error", 3],
  ["warning", 4],
  ["info", 6],
  ["info", 6],
  ["debug", 7],
  ["trace", 7],
];

export interface LogEntry {
  level: number;
  tag: string;
  args: readonly unknown[];
  date: Date;
}

const COLOURS: Record<string, string> = { error: "\u001b[31m", warning: "\u001b[33m", debug: "\u001b[90m", trace: "\u001b[90m" };
const RESET = "\u001b[39m";

/** Text and the plain-object arguments (fields for the json format) of one entry. */
export function parts(args: readonly unknown[]): { message: string; fields: Record<string, unknown> } {
  const fields: Record<string, unknown> = {};
  const text: unknown[] = [];
  for (const arg of args) {
    if (arg !== null && typeof arg === "object" && Object.getPrototypeOf(arg) === Object.prototype) Object.assign(fields, arg);
    else text.push(arg);
  }
  return { message: formatWithOptions({ colors: false }, ...text), fields };
}

export function formatEntry(entry: LogEntry, style: LogStyle): string {
  const [name, priority] = LEVELS[Math.max(0, Math.min(entry.level, LEVELS.length - 1))]!;
  const { message, fields } = parts(entry.args);
  const prefix = style.journal ? `<${priority}>` : "";
  if (style.format === "json") return prefix + JSON.stringify({ time: entry.date.toISOString(), level: name, component: entry.tag, message, ...fields });
  if (style.journal) return `${prefix}[${entry.tag}] ${message}`;
  const label = style.colour && COLOURS[name] ? `${COLOURS[name]}${name}${RESET}` : name;
  return `[${entry.tag}] ${label}: ${message}`;
}

/**
 * True when stderr is the journal stream systemd set up: JOURNAL_STREAM is "device:inode" of it
 * (systemd.exec(5)); a child that inherited the variable but writes elsewhere does not match.
 */
export function stderrIsJournal(env: Record<string, string | undefined>, fd = 2): boolean {
  const stream = env.JOURNAL_STREAM;
  if (!stream) return false;
  const [device, inode] = stream.split(":");
  try {
    const stat = fstatSync(fd, { bigint: true });
    return String(stat.dev) === device && String(stat.ino) === inode;
  } catch {
    return false;
  }
}

/** Colour only on a terminal, and never with NO_COLOR (https://no-color.org). */
export function colourAllowed(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
}

/** Removes ANSI colour sequences (text for a file, a pipe or a journal). */
export function stripColour(text: string): string {
  return text.replace(/\u001b\[[0-9;]*m/g, "");
}
