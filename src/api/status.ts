/**
 * gRPC status codes, the typed error that carries one, and the HTTP/2 metadata encodings of the
 * gRPC protocol (grpc/grpc doc/PROTOCOL-HTTP2.md): grpc-message percent-encoding, grpc-timeout.
 */

export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

const NAMES = new Map<number, string>(Object.entries(Status).map(([name, code]) => [code, name]));

/** "INVALID_ARGUMENT" for 3; "CODE_n" for codes we do not name. */
export function statusName(code: number): string {
  return NAMES.get(code) ?? `CODE_${code}`;
}

/** A call that ends with a non-OK grpc-status. `message` is shown to the caller: never a secret. */
export class GrpcError extends Error {
  constructor(
    readonly code: StatusCode,
    message: string,
    /** HTTP status of a trailers-only reply; 200 except for requests that are not gRPC at all. */
    readonly httpStatus = 200,
  ) {
    super(message);
    this.name = "GrpcError";
  }
}

/** grpc-message: UTF-8, with bytes outside 0x20..0x7e and '%' percent-encoded. */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = "";
  for (const byte of new TextEncoder().encode(message)) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(byte);
  }
  return out;
}

/** Decodes a grpc-message; malformed escapes are kept as they are (the spec says never fail). */
export function decodeGrpcMessage(value: string): string {
  if (!value.includes("%")) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const hex = value.slice(i + 1, i + 3);
    if (value[i] === "%" && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(value.charCodeAt(i) & 0xff);
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** grpc-timeout "TimeoutValue TimeoutUnit": at most 8 digits and one of H M S m u n. Returns ms. */
export function parseGrpcTimeout(value: string): number {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) throw new GrpcError(Status.INVALID_ARGUMENT, `malformed grpc-timeout header ${JSON.stringify(value.slice(0, 20))}`);
  return Number(match[1]) * TIMEOUT_UNIT_MS[match[2]!]!;
}

/** The grpc-timeout header for a timeout in ms (rounded up to whole ms, at most 8 digits). */
export function formatGrpcTimeout(ms: number): string {
  const whole = Math.max(0, Math.ceil(ms));
  if (whole < 100_000_000) return `${whole}m`;
  return `${Math.min(99_999_999, Math.ceil(whole / 1000))}S`;
}
