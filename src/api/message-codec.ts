/**
 * The API's messages for its clients (tacon, `tacon pam`, tacacs-session, the audit plugin)
 * without protobufjs: a request object encoded, and a reply decoded into the object protobufjs's
 * `toObject(message, { enums: String, longs: Number, defaults: true, oneofs: true })` gives
 * (same keys in the same order), read straight from the build-time descriptor (proto-schema.ts).
 * A `tacon pam` phase spent ~25 ms of its start loading protobufjs, building the schema Root and
 * generating its code for two messages; interpreting the descriptor costs microseconds. The
 * server keeps protobufjs (proto.ts). message-codec.test.ts checks both agree on every message.
 *
 * Requests follow protobufjs's `fromObject` then `encode`: the fields given (not null or
 * undefined) in field-number order, except proto3 defaults outside a oneof ("", 0, false, the
 * first enum value); enums by name or number (an unknown name leaves the field out); a nested
 * message must be an object, a repeated field an array.
 * Field types: what the API uses (see SCALARS); anything else fails when its message is first used.
 */
import { PREFIX_LENGTH, writePrefix } from "./framing";
import { resolveTypeName, schemaEntry } from "./proto-schema";

const WIRE = { varint: 0, fixed64: 1, length: 2, fixed32: 5 } as const;

interface Scalar {
  wire: number;
  /** protobufjs's fromObject conversion (`String()`, `Boolean()`, `>>> 0`, `| 0`, …). */
  convert: (value: unknown) => unknown;
  /** The proto3 default: not sent (outside a oneof), and what toObject fills in for a field not received. */
  empty: () => unknown;
  isEmpty: (value: unknown) => boolean;
  write: (out: ByteWriter, value: unknown) => void;
  read: (input: ByteReader) => unknown;
}

const TWO_32 = 2 ** 32;
const TWO_64 = 2 ** 64;

const isZero = (value: unknown) => value === 0;

/** The scalar types the API uses. */
const SCALARS: Record<string, Scalar> = {
  string: {
    wire: WIRE.length,
    convert: String,
    empty: () => "",
    isEmpty: (value) => value === "",
    write: (out, value) => out.bytes(Buffer.from(value as string, "utf8")),
    read: (input) => input.string(),
  },
  bytes: {
    wire: WIRE.length,
    convert: toBytes,
    empty: () => Buffer.alloc(0),
    isEmpty: (value) => (value as Uint8Array).length === 0,
    write: (out, value) => out.bytes(value as Uint8Array),
    read: (input) => input.bytes(),
  },
  bool: { wire: WIRE.varint, convert: Boolean, empty: () => false, isEmpty: (value) => value === false, write: (out, value) => out.varint(value ? 1 : 0), read: (input) => input.varint() !== 0 },
  uint32: { wire: WIRE.varint, convert: (value) => (value as number) >>> 0, empty: () => 0, isEmpty: isZero, write: (out, value) => out.varint(value as number), read: (input) => input.varint32() },
  sint32: {
    wire: WIRE.varint,
    convert: (value) => (value as number) | 0,
    empty: () => 0,
    isEmpty: isZero,
    write: (out, value) => {
      const n = value as number;
      out.varint(((n << 1) ^ (n >> 31)) >>> 0);
    },
    read: (input) => {
      const n = input.varint32();
      return (n >>> 1) ^ -(n & 1);
    },
  },
  uint64: { wire: WIRE.varint, convert: toUint64, empty: () => 0, isEmpty: isZero, write: (out, value) => out.varint(value as number), read: (input) => input.varint() },
};

/** A uint64 field's value from a number or a decimal string, as a double (the API's values fit); negative and NaN are 0, as with protobufjs's Long. */
function toUint64(value: unknown): number {
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  if (typeof value !== "number") throw new TypeError(`uint64 expected, got ${typeof value}`);
  return Number.isNaN(value) || value < 0 ? 0 : Math.trunc(value);
}

function toBytes(value: unknown): Uint8Array {
  if (typeof value === "string") return Buffer.from(value, "base64");
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return Uint8Array.from(value as number[]);
  throw new TypeError("bytes expected");
}

/** Appends to a buffer that grows as needed; a buffer it leaves behind is wiped (a request may carry a password). */
class ByteWriter {
  buffer = new Uint8Array(128);
  length = 0;

  #room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer.fill(0);
    this.buffer = grown;
  }

  wipe(): void {
    this.buffer.fill(0);
  }

  /** A non-negative integer (a double; from 2^64 on, 2^64-1 as Long.fromNumber clamps) as a varint. */
  varint(value: number): void {
    if (value >= TWO_64) this.varint64(0xffffffff, 0xffffffff);
    else this.varint64(value % TWO_32, Math.floor(value / TWO_32));
  }

  /** The 64-bit value hi·2^32 + lo as a varint. */
  varint64(low: number, high: number): void {
    this.#room(10);
    let lo = low >>> 0;
    let hi = high >>> 0;
    while (hi > 0 || lo >= 0x80) {
      this.buffer[this.length++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buffer[this.length++] = lo;
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.#room(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }

  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

export class MessageCodecError extends Error {
  override readonly name = "MessageCodecError";
}

/** Reads one message's bytes; every read is bounds-checked. */
class ByteReader {
  at = 0;

  constructor(
    readonly buffer: Uint8Array,
    public end: number,
  ) {}

  #need(bytes: number): void {
    if (this.at + bytes > this.end) throw new MessageCodecError(`index out of range: ${this.at} + ${bytes} > ${this.end}`);
  }

  #lo = 0;
  #hi = 0;

  /** Reads a varint of up to 10 bytes into #lo and #hi (bits beyond 64 dropped, as protobufjs does). */
  #varint64(): void {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      this.#need(1);
      const byte = this.buffer[this.at++]!;
      const bits = byte & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= bits << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if (byte < 0x80) {
        this.#lo = lo >>> 0;
        this.#hi = hi >>> 0;
        return;
      }
    }
    throw new MessageCodecError("invalid varint encoding");
  }

  /** A varint as an unsigned 64-bit value in a double (exact below 2^53, as protobufjs's longs as numbers). */
  varint(): number {
    this.#varint64();
    return this.#hi * TWO_32 + this.#lo;
  }

  /** A varint's low 32 bits, unsigned (protobufjs's uint32). */
  varint32(): number {
    this.#varint64();
    return this.#lo;
  }

  /** A view of the bytes; empty ones as an empty Buffer, as protobufjs gives them. */
  bytes(): Uint8Array {
    const length = this.varint();
    if (length === 0) return Buffer.alloc(0);
    this.#need(length);
    const value = this.buffer.subarray(this.at, this.at + length);
    this.at += length;
    return value;
  }

  string(): string {
    return Buffer.from(this.bytes()).toString("utf8");
  }

  skip(wireType: number): void {
    if (wireType === WIRE.varint) this.varint();
    else if (wireType === WIRE.length) this.bytes();
    else if (wireType === WIRE.fixed64 || wireType === WIRE.fixed32) {
      const bytes = wireType === WIRE.fixed64 ? 8 : 4;
      this.#need(bytes);
      this.at += bytes;
    } else throw new MessageCodecError(`invalid wire type ${wireType} at offset ${this.at}`);
  }
}

interface EnumType {
  values: Record<string, number>;
  names: Map<number, string>;
  /** toObject's default: the name of the first value. */
  first: string;
}

interface Field {
  name: string;
  /** ".package.Message.field", as protobufjs names it in its errors. */
  fullName: string;
  id: number;
  repeated: boolean;
  /** The oneof it is a member of. */
  oneof?: string;
  kind: { scalar: Scalar } | { enumType: EnumType } | { message: () => MessageType };
}

interface MessageType {
  fullName: string;
  /** In field-number order (protobufjs's encoder and toObject sort them so). */
  fields: Field[];
  byId: Map<number, Field>;
}

const messageTypes = new Map<string, MessageType>();

/** A message type by its full name, made from the descriptor on first use. */
function messageType(fullName: string): MessageType {
  let type = messageTypes.get(fullName);
  if (type === undefined) {
    type = buildMessageType(fullName);
    messageTypes.set(fullName, type);
  }
  return type;
}

function buildMessageType(fullName: string): MessageType {
  const entry = schemaEntry(fullName);
  if (entry?.fields === undefined) throw new MessageCodecError(`no message type ${fullName}`);
  const oneofOf = new Map<string, string>();
  for (const [oneof, { oneof: members }] of Object.entries(entry.oneofs ?? {})) for (const member of members) oneofOf.set(member, oneof);
  const fields = Object.entries(entry.fields).map(([name, field]): Field => {
    const where = `${fullName}.${name}`;
    const repeated = (field as { rule?: string }).rule === "repeated";
    if ((field as { keyType?: string }).keyType !== undefined) throw new MessageCodecError(`${where}: map fields are not supported by the client codec`);
    const scalar = SCALARS[field.type];
    let kind: Field["kind"];
    if (scalar !== undefined) {
      // proto3 packs repeated numbers: not used by the API, so not implemented.
      if (repeated && scalar.wire !== WIRE.length) throw new MessageCodecError(`${where}: repeated ${field.type} is not supported by the client codec`);
      kind = { scalar };
    } else {
      const target = resolveTypeName(fullName, field.type);
      const targetEntry = target === undefined ? undefined : schemaEntry(target);
      if (targetEntry?.values !== undefined) kind = { enumType: enumType(targetEntry.values) };
      else if (target !== undefined && targetEntry?.fields !== undefined) kind = { message: () => messageType(target) };
      else throw new MessageCodecError(`${where}: type ${field.type} is not supported by the client codec`);
    }
    return { name, fullName: `.${where}`, id: field.id, repeated, oneof: oneofOf.get(name), kind };
  });
  fields.sort((a, b) => a.id - b.id);
  return { fullName, fields, byId: new Map(fields.map((field) => [field.id, field])) };
}

function enumType(values: Record<string, number>): EnumType {
  const names = new Map<number, string>();
  for (const [name, value] of Object.entries(values)) names.set(value, name);
  return { values, names, first: names.get(Object.values(values)[0]!)! };
}

// ---- encoding (protobufjs fromObject + encode) ----

/**
 * `request` encoded as the message `fullName` (the caller wipes it after use; no other copy is
 * left unwiped); throws TypeError for a value of the wrong shape.
 */
export function encodeMessageObject(fullName: string, request: object): Uint8Array {
  return encodeAfter(0, fullName, request);
}

/**
 * `request` as one gRPC message with its 5-byte prefix, encoded once: the prefix is reserved in
 * the writer (as proto.ts's encodeReply does), so no unframed copy of a password is left behind.
 */
export function encodeFramedMessageObject(fullName: string, request: object): Uint8Array {
  const frame = encodeAfter(PREFIX_LENGTH, fullName, request);
  writePrefix(frame, frame.length - PREFIX_LENGTH);
  return frame;
}

/** `request` encoded after `reserved` zero bytes; a failed encoding wipes what it wrote. */
function encodeAfter(reserved: number, fullName: string, request: object): Uint8Array {
  const out = new ByteWriter();
  out.length = reserved;
  try {
    writeMessage(out, messageType(fullName), request as Record<string, unknown>);
  } catch (error) {
    out.wipe();
    throw error;
  }
  return out.result();
}

function writeMessage(out: ByteWriter, type: MessageType, object: Record<string, unknown>): void {
  for (const field of type.fields) {
    const value = object[field.name];
    if (value === null || value === undefined) continue;
    if (!field.repeated) {
      writeValue(out, field, value, field.oneof === undefined);
      continue;
    }
    if (!Array.isArray(value)) throw new TypeError(`${field.fullName}: array expected`);
    for (const element of value) writeValue(out, field, element, false);
  }
}

/** Writes one value of `field`; with `skipEmpty` (proto3 implicit presence), not a default one. */
function writeValue(out: ByteWriter, field: Field, value: unknown, skipEmpty: boolean): void {
  const { kind } = field;
  if ("scalar" in kind) {
    const converted = kind.scalar.convert(value);
    if (skipEmpty && kind.scalar.isEmpty(converted)) return;
    out.varint(field.id * 8 + kind.scalar.wire);
    kind.scalar.write(out, converted);
  } else if ("enumType" in kind) {
    const number = enumNumber(kind.enumType, value);
    if (number === undefined || (skipEmpty && number === kind.enumType.values[kind.enumType.first])) return;
    out.varint(field.id * 8 + WIRE.varint);
    writeInt32(out, number);
  } else {
    if (typeof value !== "object" || value === null) throw new TypeError(`${field.fullName}: object expected`);
    const nested = new ByteWriter();
    try {
      writeMessage(nested, kind.message(), value as Record<string, unknown>);
      out.varint(field.id * 8 + WIRE.length);
      out.bytes(nested.result());
    } finally {
      nested.wipe();
    }
  }
}

/** An enum value by name, or a number as is when it is an int32; undefined: protobufjs leaves the field out. */
function enumNumber(type: EnumType, value: unknown): number | undefined {
  if (typeof value === "string" && Object.hasOwn(type.values, value)) return type.values[value];
  if (typeof value === "number" && (value | 0) === value) return value;
  return undefined;
}

/** An int32 as protobufjs writes it: negative ones as 10-byte varints (sign-extended to 64 bits). */
function writeInt32(out: ByteWriter, value: number): void {
  out.varint64(value >>> 0, value < 0 ? 0xffffffff : 0);
}

// ---- decoding (protobufjs decode + toObject) ----

/** The message `fullName` from its encoding, as a plain object; throws MessageCodecError when the bytes do not parse. */
export function decodeMessageObject(fullName: string, bytes: Uint8Array): Record<string, unknown> {
  return readMessage(new ByteReader(bytes, bytes.length), messageType(fullName));
}

function readMessage(input: ByteReader, type: MessageType): Record<string, unknown> {
  const seen = new Map<Field, unknown>();
  while (input.at < input.end) {
    const tag = input.varint32();
    const wireType = tag & 7;
    const field = type.byId.get(tag >>> 3);
    if (field === undefined) {
      input.skip(wireType);
      continue;
    }
    const value = readValue(input, field, wireType);
    if (field.repeated) ((seen.get(field) as unknown[] | undefined) ?? (seen.set(field, []).get(field) as unknown[])).push(value);
    else seen.set(field, value);
  }
  return toObject(type, seen);
}

function readValue(input: ByteReader, field: Field, wireType: number): unknown {
  const { kind } = field;
  const expected = "scalar" in kind ? kind.scalar.wire : "enumType" in kind ? WIRE.varint : WIRE.length;
  if (wireType !== expected) throw new MessageCodecError(`${field.fullName}: wire type ${wireType}, expected ${expected}`);
  if ("scalar" in kind) return kind.scalar.read(input);
  if ("enumType" in kind) {
    const number = input.varint32() | 0;
    return kind.enumType.names.get(number) ?? number;
  }
  const length = input.varint();
  const end = input.at + length;
  if (end > input.end) throw new MessageCodecError(`index out of range: ${input.at} + ${length} > ${input.end}`);
  const outer = input.end;
  input.end = end;
  const value = readMessage(input, kind.message());
  input.end = outer;
  return value;
}

/** protobufjs's key order: repeated fields, then the other fields' defaults, then what was sent (with each oneof's name after its member). */
function toObject(type: MessageType, seen: Map<Field, unknown>): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const field of type.fields) if (field.repeated && field.oneof === undefined) object[field.name] = [];
  for (const field of type.fields) if (!field.repeated && field.oneof === undefined) object[field.name] = emptyValue(field);
  for (const field of type.fields) {
    if (!seen.has(field)) continue;
    object[field.name] = seen.get(field);
    if (field.oneof !== undefined) object[field.oneof] = field.name;
  }
  return object;
}

function emptyValue(field: Field): unknown {
  const { kind } = field;
  if ("scalar" in kind) return kind.scalar.empty();
  if ("enumType" in kind) return kind.enumType.first;
  return null;
}
