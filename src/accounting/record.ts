/**
 * The spool's on-disk record, built for crashes. Pure: bytes in, values out.
 *
 *   u32 payload length | u32 CRC-32 of the payload | payload
 *   payload = u8 format (1) | u8 TACACS+ version byte | f64 accepted-at (ms since the epoch) | accounting REQUEST body
 *
 * A record is valid only when its whole frame is present and its checksum matches: a torn write
 * (power loss mid-append) or a flipped bit ends the valid prefix of a segment, and nothing after
 * it is ever replayed.
 */

export const RECORD_HEADER_BYTES = 8;
const PAYLOAD_FIXED_BYTES = 10;
const FORMAT = 1;
/** Far above any accounting body (--max-body-bytes caps them at 196,356): a larger length is corruption. */
export const MAX_RECORD_PAYLOAD_BYTES = 1 << 20;

/** One accounting record as the spool keeps it: what to send and when the agent accepted it. */
export interface SpoolRecord {
  /** The version byte of the REQUEST header (RFC 8907 §4.1). */
  version: number;
  /** When the agent accepted the record, ms since the epoch. */
  acceptedAt: number;
  /** The plaintext accounting REQUEST body (RFC 8907 §7.1): accounting data, never a secret. */
  body: Uint8Array;
}

export function encodeRecord(record: SpoolRecord): Uint8Array {
  const payloadLength = PAYLOAD_FIXED_BYTES + record.body.length;
  const out = new Uint8Array(RECORD_HEADER_BYTES + payloadLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, payloadLength);
  out[8] = FORMAT;
  out[9] = record.version;
  view.setFloat64(10, record.acceptedAt);
  out.set(record.body, RECORD_HEADER_BYTES + PAYLOAD_FIXED_BYTES);
  view.setUint32(4, Bun.hash.crc32(out.subarray(RECORD_HEADER_BYTES)) >>> 0);
  return out;
}

/** A valid record found in a segment, with where its frame starts and ends. */
export interface ScannedRecord extends SpoolRecord {
  offset: number;
  end: number;
}

export interface ScanResult {
  records: ScannedRecord[];
  /** End of the valid prefix: everything from here on is a torn or corrupt tail (or not read yet). */
  validEnd: number;
  /** Why the scan stopped before the end of `bytes`: undefined when it consumed everything. */
  stop?: "partial" | "corrupt";
}

/** The valid prefix of `bytes` and why it ends; `visit` sees each valid frame (payload, frame start and end in `bytes`, and a view of `bytes`). */
function walkFrames(bytes: Uint8Array, visit: (payload: Uint8Array, at: number, end: number, view: DataView) => void): { validEnd: number; stop?: "partial" | "corrupt" } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < RECORD_HEADER_BYTES) return { validEnd: at, stop: "partial" };
    const length = view.getUint32(at);
    if (length < PAYLOAD_FIXED_BYTES || length > MAX_RECORD_PAYLOAD_BYTES) return { validEnd: at, stop: "corrupt" };
    const end = at + RECORD_HEADER_BYTES + length;
    if (end > bytes.length) return { validEnd: at, stop: "partial" };
    const payload = bytes.subarray(at + RECORD_HEADER_BYTES, end);
    if (Bun.hash.crc32(payload) >>> 0 !== view.getUint32(at + 4) || payload[0] !== FORMAT) return { validEnd: at, stop: "corrupt" };
    visit(payload, at, end, view);
    at = end;
  }
  return { validEnd: at };
}

/**
 * Reads the records of `bytes` (which start at a record boundary, `base` bytes into the segment).
 * Stops at the first frame that is incomplete ("partial": more bytes may follow) or invalid
 * ("corrupt"). Record bodies are views of `bytes` (no copy per record: one buffer per chunk read),
 * so the caller must not reuse `bytes`.
 */
export function scanRecords(bytes: Uint8Array, base = 0): ScanResult {
  const records: ScannedRecord[] = [];
  const walked = walkFrames(bytes, (payload, at, end, view) => {
    records.push({ version: payload[1]!, acceptedAt: view.getFloat64(at + RECORD_HEADER_BYTES + 2), body: payload.subarray(PAYLOAD_FIXED_BYTES), offset: base + at, end: base + end });
  });
  return { records, validEnd: base + walked.validEnd, ...(walked.stop ? { stop: walked.stop } : {}) };
}

/** Start-up recovery: how many valid records of a whole segment start at or after byte `from`, without building them. */
export function countRecords(bytes: Uint8Array, from: number): { count: number; validEnd: number; stop?: "partial" | "corrupt" } {
  let count = 0;
  const walked = walkFrames(bytes, (_payload, at) => {
    if (at >= from) count++;
  });
  return { count, ...walked };
}
