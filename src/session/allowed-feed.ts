/**
 * The main thread's allowed answers, fed to the listener worker (pure codec). The main thread
 * decides and caches (decisions.ts); each allowed answer it caches also goes, as one entry, down
 * a pipe the worker polls, so the worker lets a repeated command go on by itself: no message to
 * the main thread and no wake-up of it before the exec continues (~0.15 ms of a cached exec's
 * ~0.8). Denials stay with the main thread, which says why on the session's stderr.
 *
 * An entry is `u32 key bytes, f64 expiry (ms since the epoch), key UTF-8`, little-endian, written
 * in one write of at most PIPE_BUF bytes, which a pipe never interleaves or splits: a longer
 * command line is answered by the main thread only.
 */

/** POSIX PIPE_BUF on Linux: a write of at most this many bytes to a pipe is atomic. */
export const MAX_ENTRY_BYTES = 4096;
const HEADER_BYTES = 12;

export interface AllowedEntry {
  key: string;
  expiresAt: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The entry's bytes, or undefined when it would not fit one atomic pipe write. */
export function encodeEntry(key: string, expiresAt: number): Uint8Array | undefined {
  const keyBytes = encoder.encode(key);
  if (HEADER_BYTES + keyBytes.length > MAX_ENTRY_BYTES) return undefined;
  const entry = new Uint8Array(HEADER_BYTES + keyBytes.length);
  const view = new DataView(entry.buffer);
  view.setUint32(0, keyBytes.length, true);
  view.setFloat64(4, expiresAt, true);
  entry.set(keyBytes, HEADER_BYTES);
  return entry;
}

/** Entries from the pipe's bytes as they are read (a read may end inside an entry). */
export class EntryReader {
  #pending = new Uint8Array(0);

  push(chunk: Uint8Array): AllowedEntry[] {
    const bytes = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const entries: AllowedEntry[] = [];
    let at = 0;
    while (bytes.length - at >= HEADER_BYTES) {
      const length = view.getUint32(at, true);
      if (HEADER_BYTES + length > MAX_ENTRY_BYTES) throw new Error(`allowed-answer feed: an entry of ${length} bytes (corrupt feed)`);
      if (bytes.length - at < HEADER_BYTES + length) break;
      entries.push({ expiresAt: view.getFloat64(at + 4, true), key: decoder.decode(bytes.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length)) });
      at += HEADER_BYTES + length;
    }
    this.#pending = bytes.slice(at);
    return entries;
  }
}
