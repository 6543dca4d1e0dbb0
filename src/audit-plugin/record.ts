/**
 * One audit record in auditd's plugin "string" format (pure):
 *
 *   type=EXECVE msg=audit(1796287307.824:14): argc=3 a0="/bin/true" a1="plain" a2=776F726473
 *
 * optionally followed by auditd's ENRICHED fields after a 0x1d (GS) byte (AUID="alice" ...).
 * Values are "quoted", bare, or hex: the kernel hex-encodes any untrusted string holding a
 * space, a quote, a control or a non-ASCII byte (kernel/audit.c audit_log_n_untrustedstring).
 */

export class RecordError extends Error {
  override readonly name = "RecordError";
}

export interface AuditRecord {
  type: string;
  /** Event time in milliseconds since the epoch. */
  timeMs: number;
  /** The event serial: every record of one event shares it. */
  serial: number;
  /** The kernel's fields, after "): ". */
  body: string;
  /** auditd's enriched fields (after 0x1d), or "". */
  enriched: string;
}

const HEADER = /^type=([A-Z_0-9]+) msg=audit\((\d{1,12})\.(\d{3}):(\d{1,20})\):/;
const GROUP_SEPARATOR = "\x1d";

/** The record's header and field text; throws RecordError on anything else. */
export function parseRecord(line: string): AuditRecord {
  const header = HEADER.exec(line);
  if (header === null) throw new RecordError("not an audit record (no type=... msg=audit(time:serial): header)");
  const rest = line.slice(header[0].length);
  const separator = rest.indexOf(GROUP_SEPARATOR);
  return {
    type: header[1]!,
    timeMs: Number(header[2]) * 1000 + Number(header[3]),
    serial: Number(header[4]),
    body: separator < 0 ? rest : rest.slice(0, separator),
    enriched: separator < 0 ? "" : rest.slice(separator + 1),
  };
}

/** The record type of a line without parsing it (for skipping what we do not need cheaply). */
export function recordType(line: string): string {
  if (!line.startsWith("type=")) return "";
  const end = line.indexOf(" ", 5);
  return end < 0 ? "" : line.slice(5, end);
}

/**
 * The name=value fields of a record body, values as written (quotes kept, so callers can tell
 * a quoted string from hex). A malformed field throws RecordError.
 */
export function parseFields(body: string): Map<string, string> {
  const fields = new Map<string, string>();
  let i = 0;
  const n = body.length;
  while (i < n) {
    while (i < n && body.charCodeAt(i) === 0x20) i++;
    if (i >= n) break;
    const equals = body.indexOf("=", i);
    if (equals < 0) throw new RecordError(`field without "=" at offset ${i}`);
    const name = body.slice(i, equals);
    if (name.length === 0 || name.includes(" ")) throw new RecordError(`malformed field name at offset ${i}`);
    let end: number;
    if (body.charCodeAt(equals + 1) === 0x22 /* " */) {
      end = body.indexOf('"', equals + 2);
      if (end < 0) throw new RecordError(`unterminated quoted value of ${name.slice(0, 40)}`);
      end++;
    } else {
      end = body.indexOf(" ", equals + 1);
      if (end < 0) end = n;
    }
    fields.set(name, body.slice(equals + 1, end));
    i = end;
  }
  return fields;
}

const HEX = /^(?:[0-9A-Fa-f]{2})*$/;

/** The bytes of an untrusted string value: "quoted" as is, or hex decoded; `(null)` is undefined. */
export function untrustedBytes(value: string): Uint8Array | undefined {
  if (value === "(null)" || value === "(none)") return undefined;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return new TextEncoder().encode(value.slice(1, -1));
  if (!HEX.test(value)) throw new RecordError("value is neither quoted nor hex");
  return Buffer.from(value, "hex");
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** An untrusted string value as text (invalid UTF-8 becomes U+FFFD). */
export function untrustedString(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1);
  const bytes = untrustedBytes(value);
  return bytes === undefined ? undefined : utf8.decode(bytes);
}

/** A numeric field (auid, ses, pid ...); undefined when absent or not a number. */
export function numberField(fields: Map<string, string>, name: string): number | undefined {
  const value = fields.get(name);
  if (value === undefined || !/^\d{1,20}$/.test(value)) return undefined;
  return Number(value);
}
