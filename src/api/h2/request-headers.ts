/**
 * Request and trailer field validation (RFC 9113 §8.2, §8.3): a malformed request is a stream
 * error of type PROTOCOL_ERROR (§8.1.1). Names arrive lowercase from conforming clients.
 */
import type { HeaderField } from "./hpack";

/** Request fields by name; repeated regular fields are joined with ", " (RFC 9110 §5.3). */
export type RequestHeaders = Readonly<Record<string, string>>;

const PSEUDO = new Set([":method", ":scheme", ":path", ":authority"]);
/** §8.2.2: connection-specific fields are not allowed in HTTP/2. */
const CONNECTION_SPECIFIC = new Set(["connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade"]);
/** RFC 9110 §5.1 token characters, lowercase only (§8.2.1). */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** §8.2.1: no NUL, CR or LF; no leading or trailing whitespace. */
const BAD_VALUE = /[\0\r\n]|^[ \t]|[ \t]$/;

/**
 * Fields already found valid. HPACK hands out the same tuple each time a table entry is referenced,
 * so the fields a client repeats on every call are checked once.
 */
const valid = new WeakSet<HeaderField>();

export class MalformedRequest extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedRequest";
  }
}

/** Validates a request's field list and returns it by name; throws MalformedRequest. */
export function requestHeaders(fields: readonly HeaderField[]): RequestHeaders {
  const headers: Record<string, string> = Object.create(null);
  let regularSeen = false;
  for (const field of fields) {
    const [name, value] = field;
    if (name.startsWith(":")) {
      if (!PSEUDO.has(name)) throw new MalformedRequest(`unknown pseudo-header ${name.slice(0, 40)}`);
      if (regularSeen) throw new MalformedRequest(`pseudo-header ${name} after a regular field`);
      if (name in headers) throw new MalformedRequest(`repeated pseudo-header ${name}`);
      headers[name] = value;
      continue;
    }
    regularSeen = true;
    checkRegular(field);
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  if (headers[":method"] === "CONNECT") throw new MalformedRequest("CONNECT is not supported");
  for (const required of [":method", ":scheme", ":path"]) {
    if (!headers[required]) throw new MalformedRequest(`missing pseudo-header ${required}`);
  }
  const length = headers["content-length"];
  if (length !== undefined && !/^\d{1,15}$/.test(length)) throw new MalformedRequest("malformed content-length");
  return headers;
}

/** Validates trailers: regular fields only (§8.1). */
export function checkTrailers(fields: readonly HeaderField[]): void {
  for (const field of fields) {
    if (field[0].startsWith(":")) throw new MalformedRequest(`pseudo-header ${field[0].slice(0, 40)} in trailers`);
    checkRegular(field);
  }
}

function checkRegular(field: HeaderField): void {
  if (valid.has(field)) return;
  const [name, value] = field;
  if (!FIELD_NAME.test(name)) throw new MalformedRequest(`invalid field name ${JSON.stringify(name.slice(0, 40))}`);
  if (BAD_VALUE.test(value)) throw new MalformedRequest(`invalid value of field ${name}`);
  if (CONNECTION_SPECIFIC.has(name)) throw new MalformedRequest(`connection-specific field ${name}`);
  if (name === "te" && value !== "trailers") throw new MalformedRequest(`te other than "trailers"`);
  valid.add(field);
}
