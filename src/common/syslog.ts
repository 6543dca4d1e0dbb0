/**
 * One syslog line, the way glibc's syslog(3) sends it to /dev/log (journald and rsyslog both read
 * it): "<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE" (RFC 3164 §4.1, without the host name, which the
 * local daemon adds). Bun has no syslog(3); the datagram goes out through common/unix-datagram.
 */
import { sendUnixDatagram } from "./unix-datagram";

/** RFC 5424 §6.2.1 facility codes we use. */
export const Facility = { auth: 4, authpriv: 10, daemon: 3 } as const;
export const Severity = { err: 3, warning: 4, notice: 5, info: 6 } as const;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** Longer lines are cut (glibc's own buffer is larger, but a login's reason fits in far less). */
const MAX_MESSAGE_BYTES = 1024;

const two = (n: number) => String(n).padStart(2, "0");

export function formatSyslogLine(facility: number, severity: number, tag: string, pid: number, message: string, now: Date): string {
  const stamp = `${MONTHS[now.getMonth()]} ${String(now.getDate()).padStart(2, " ")} ${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}`;
  // One line: control characters (a newline from a server message) would split or forge entries.
  const text = message.replace(/[\x00-\x1f\x7f]/g, " ");
  const cut = Buffer.byteLength(text) > MAX_MESSAGE_BYTES ? `${Buffer.from(text).subarray(0, MAX_MESSAGE_BYTES).toString()}…` : text;
  return `<${facility * 8 + severity}>${stamp} ${tag}[${pid}]: ${cut}`;
}

/** Sends the line to `socketPath` (/dev/log); false when there is no syslog daemon listening. */
export function syslog(socketPath: string, facility: number, severity: number, tag: string, message: string, now = new Date()): boolean {
  return sendUnixDatagram(socketPath, new TextEncoder().encode(formatSyslogLine(facility, severity, tag, process.pid, message, now)));
}
