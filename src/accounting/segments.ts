/**
 * Segment files and the delivery cursor on disk. Segments are named by a growing sequence number
 * (`0000000000000001.seg`), created 0600, appended to only by the run that created them, and
 * deleted once every record in them is delivered. The cursor file names the first record not yet
 * delivered; it is replaced atomically (write, rename) and lags delivery by at most a moment,
 * which is why delivery is at-least-once across a crash.
 */
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

const SEGMENT_NAME = /^(\d{16})\.seg$/;
const CURSOR_FILE = "cursor";

export interface Position {
  /** Segment sequence number. */
  segment: number;
  /** Byte offset of the next record to deliver in that segment. */
  offset: number;
}

export function segmentPath(dir: string, segment: number): string {
  return join(dir, `${String(segment).padStart(16, "0")}.seg`);
}

/** Sequence numbers of the segments in `dir`, oldest first. */
export function listSegments(dir: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync(dir)) {
    const match = SEGMENT_NAME.exec(name);
    if (match) found.push(Number(match[1]));
  }
  return found.sort((a, b) => a - b);
}

/** The saved cursor; undefined when there is none, or it is unreadable (everything is then replayed). */
export function readCursor(dir: string): Position | undefined | "unreadable" {
  let text: string;
  try {
    text = readFileSync(join(dir, CURSOR_FILE), "utf8");
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? undefined : "unreadable";
  }
  const match = /^(\d+) (\d+)\n$/.exec(text);
  return match ? { segment: Number(match[1]), offset: Number(match[2]) } : "unreadable";
}

/** Asynchronous, so a slow disk never stalls the event loop; callers run one at a time. */
export async function writeCursor(dir: string, position: Position): Promise<void> {
  const temporary = join(dir, `${CURSOR_FILE}.tmp`);
  await writeFile(temporary, `${position.segment} ${position.offset}\n`, { mode: 0o600 });
  await rename(temporary, join(dir, CURSOR_FILE));
}

/** Makes a new directory entry (a segment just created) survive a power loss. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
