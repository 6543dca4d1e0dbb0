/**
 * HPACK (RFC 7541) for a server: a strict decoder (static + dynamic table, size updates bounded by
 * our SETTINGS_HEADER_TABLE_SIZE, Huffman, bounded integers and strings, a cap on the decoded
 * header list) and an encoder for the few fields we send, which never touches the dynamic table
 * (indexed static entries and literals without indexing, §6.1/§6.2.2), so blocks can be cached.
 */
import { huffmanDecode, HuffmanError } from "./huffman";
import { STATIC_TABLE } from "./static-table";

/** A COMPRESSION_ERROR: the connection cannot continue (the tables are out of sync). */
export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HpackError";
  }
}

export type HeaderField = readonly [name: string, value: string];

/** §4.1: an entry costs its name and value octets plus 32. */
const ENTRY_OVERHEAD = 32;
/** The literal cache: at most this many representations per connection, each at most this long. */
const MAX_CACHED_LITERALS = 32;
const MAX_CACHED_LITERAL = 256;
/** The longest block kept for the repeated-block check. */
const MAX_CACHED_BLOCK = 1024;
/** Integers beyond this are refused (no field, index or table size needs more). */
const MAX_INTEGER = 2 ** 31 - 1;

export interface DecodedBlock {
  readonly fields: HeaderField[];
  /** True when the list passed the size cap: fields were dropped (the tables stay in sync). */
  readonly oversized: boolean;
}

export class HpackDecoder {
  /** Newest entry last: dynamic index 1 is entries[length - 1]. */
  readonly #entries: HeaderField[] = [];
  #size = 0;
  #maxSize: number;
  /** Recent literals without indexing, by a hash of their representation (bytes compared on a hit). */
  readonly #literals = new Map<number, { bytes: Uint8Array; field: HeaderField }>();
  /** Counts the changes of the dynamic table (insertions, size updates). */
  #changes = 0;
  /**
   * The previous block, when it left the dynamic table as it was: the same bytes then decode to
   * the same list again (clients repeat a request's block once its fields are indexed).
   */
  #last: { bytes: Uint8Array; decoded: DecodedBlock } | undefined;

  constructor(
    /** SETTINGS_HEADER_TABLE_SIZE we advertise: the most a size update may ask for. */
    private readonly settingsLimit: number,
    /** Most octets (§4.1 accounting) of one decoded header list kept. */
    private readonly maxListSize: number,
  ) {
    this.#maxSize = settingsLimit;
  }

  get tableSize(): number {
    return this.#size;
  }

  /** Decodes one complete field block; throws HpackError. */
  decode(block: Uint8Array): DecodedBlock {
    const last = this.#last;
    if (last !== undefined && sameBytes(last.bytes, block, 0, block.length)) return last.decoded;
    this.#last = undefined;
    const changes = this.#changes;
    const decoded = this.#decode(block);
    if (this.#changes === changes && block.length <= MAX_CACHED_BLOCK) this.#last = { bytes: block.slice(), decoded };
    return decoded;
  }

  #decode(block: Uint8Array): DecodedBlock {
    const fields: HeaderField[] = [];
    let listSize = 0;
    let oversized = false;
    const cursor = { at: 0 };
    let fieldSeen = false;
    while (cursor.at < block.length) {
      const first = block[cursor.at]!;
      let field: HeaderField;
      if (first & 0x80) {
        field = this.#lookup(readInteger(block, cursor, 7));
      } else if ((first & 0xe0) === 0x20) {
        // §4.2: a size update must come at the beginning of a block.
        if (fieldSeen) throw new HpackError("dynamic table size update after a header field");
        const size = readInteger(block, cursor, 5);
        if (size > this.settingsLimit) throw new HpackError(`dynamic table size update to ${size} exceeds the limit ${this.settingsLimit}`);
        this.#maxSize = size;
        this.#changes++;
        this.#evict(0);
        continue;
      } else {
        const start = cursor.at;
        const indexing = (first & 0xc0) === 0x40;
        const nameIndex = readInteger(block, cursor, indexing ? 6 : 4);
        // A name from the dynamic table may change meaning between blocks: only static names are cached.
        if (indexing || nameIndex > STATIC_TABLE.length) {
          field = this.#literal(block, cursor, nameIndex);
          if (indexing) this.#insert(field);
        } else {
          field = this.#repeatableLiteral(block, start, cursor, nameIndex);
        }
      }
      fieldSeen = true;
      listSize += field[0].length + field[1].length + ENTRY_OVERHEAD;
      if (listSize > this.maxListSize) oversized = true;
      else fields.push(field);
    }
    return { fields, oversized };
  }

  #literal(block: Uint8Array, cursor: { at: number }, nameIndex: number): HeaderField {
    const name = nameIndex === 0 ? readString(block, cursor) : this.#lookup(nameIndex)[0];
    return [name, readString(block, cursor)];
  }

  /**
   * A literal without indexing (§6.2.2, §6.2.3). Clients resend some on every request (nghttp2
   * never indexes :path), so the same representation yields the same field object, decoded once;
   * request-headers.ts then validates that object once too.
   */
  #repeatableLiteral(block: Uint8Array, start: number, cursor: { at: number }, nameIndex: number): HeaderField {
    const nameAt = cursor.at;
    if (nameIndex === 0) skipString(block, cursor);
    skipString(block, cursor);
    const end = cursor.at;
    if (end - start > MAX_CACHED_LITERAL) {
      cursor.at = nameAt;
      return this.#literal(block, cursor, nameIndex);
    }
    const key = fnv1a(block, start, end);
    const cached = this.#literals.get(key);
    if (cached !== undefined && sameBytes(cached.bytes, block, start, end)) return cached.field;
    cursor.at = nameAt;
    const field = this.#literal(block, cursor, nameIndex);
    if (this.#literals.size >= MAX_CACHED_LITERALS) this.#literals.clear();
    this.#literals.set(key, { bytes: block.slice(start, end), field });
    return field;
  }

  #lookup(index: number): HeaderField {
    if (index === 0) throw new HpackError("header field index 0");
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const entry = this.#entries[this.#entries.length - (index - STATIC_TABLE.length)];
    if (entry === undefined) throw new HpackError(`header field index ${index} is beyond the tables`);
    return entry;
  }

  /** §4.4: evict first; an entry larger than the table empties it and is not added. */
  #insert(field: HeaderField): void {
    this.#changes++;
    const size = field[0].length + field[1].length + ENTRY_OVERHEAD;
    this.#evict(size);
    if (size > this.#maxSize) return;
    this.#entries.push(field);
    this.#size += size;
  }

  /** Evicts oldest entries until `room` more octets fit. */
  #evict(room: number): void {
    let drop = 0;
    while (this.#size + room > this.#maxSize && drop < this.#entries.length) {
      const [name, value] = this.#entries[drop++]!;
      this.#size -= name.length + value.length + ENTRY_OVERHEAD;
    }
    if (drop > 0) this.#entries.splice(0, drop);
  }
}

/** §5.1: an N-bit prefix integer at cursor.at; advances the cursor. */
export function readInteger(block: Uint8Array, cursor: { at: number }, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  let value = block[cursor.at++]! & max;
  if (value < max) return value;
  let shift = 0;
  for (;;) {
    if (cursor.at >= block.length) throw new HpackError("truncated integer");
    const byte = block[cursor.at++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (value > MAX_INTEGER) throw new HpackError("integer too large");
    if ((byte & 0x80) === 0) return value;
    shift += 7;
  }
}

/** §5.2: moves the cursor past a string literal without decoding it. */
function skipString(block: Uint8Array, cursor: { at: number }): void {
  if (cursor.at >= block.length) throw new HpackError("truncated string literal");
  const end = readInteger(block, cursor, 7) + cursor.at;
  if (end > block.length) throw new HpackError("string literal longer than the field block");
  cursor.at = end;
}

/** FNV-1a over bytes[start, end): a cheap key for the literal cache. */
function fnv1a(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash;
}

function sameBytes(cached: Uint8Array, block: Uint8Array, start: number, end: number): boolean {
  if (cached.length !== end - start) return false;
  for (let i = 0; i < cached.length; i++) if (cached[i] !== block[start + i]) return false;
  return true;
}

/** §5.2: a string literal, Huffman-coded or raw octets, as latin1. */
function readString(block: Uint8Array, cursor: { at: number }): string {
  if (cursor.at >= block.length) throw new HpackError("truncated string literal");
  const huffman = (block[cursor.at]! & 0x80) !== 0;
  const length = readInteger(block, cursor, 7);
  const start = cursor.at;
  const end = start + length;
  if (end > block.length) throw new HpackError("string literal longer than the field block");
  cursor.at = end;
  if (!huffman) return latin1(block, start, end);
  try {
    return huffmanDecode(block, start, end);
  } catch (error) {
    if (error instanceof HuffmanError) throw new HpackError(error.message);
    throw error;
  }
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  // Short strings are cheaper char by char than through a decoder.
  if (end - start < 64) {
    let out = "";
    for (let i = start; i < end; i++) out += String.fromCharCode(bytes[i]!);
    return out;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString("latin1");
}

/** Static index of each (name, value) pair and of each name (the first one). */
const STATIC_FIELD_INDEX = new Map<string, number>();
const STATIC_NAME_INDEX = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  STATIC_FIELD_INDEX.set(`${name}\0${value}`, i + 1);
  if (!STATIC_NAME_INDEX.has(name)) STATIC_NAME_INDEX.set(name, i + 1);
});

/**
 * Encodes fields without touching the dynamic table: a static index when the pair is there,
 * else a literal without indexing (§6.2.2), with the static name index when there is one.
 * Names must be lowercase; values are latin1 (callers percent-encode, as gRPC requires).
 */
export function encodeHeaderBlock(fields: readonly HeaderField[]): Uint8Array {
  const out: number[] = [];
  for (const [name, value] of fields) {
    const full = STATIC_FIELD_INDEX.get(`${name}\0${value}`);
    if (full !== undefined) {
      writeInteger(out, full, 7, 0x80);
      continue;
    }
    const nameIndex = STATIC_NAME_INDEX.get(name);
    if (nameIndex !== undefined) {
      writeInteger(out, nameIndex, 4, 0x00);
    } else {
      out.push(0x00);
      writeString(out, name);
    }
    writeString(out, value);
  }
  return Uint8Array.from(out);
}

function writeInteger(out: number[], value: number, prefixBits: number, flags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function writeString(out: number[], value: string): void {
  writeInteger(out, value.length, 7, 0x00);
  for (let i = 0; i < value.length; i++) out.push(value.charCodeAt(i) & 0xff);
}
