import { describe, expect, test } from "bun:test";
import { Enum, Type } from "protobufjs/light";
import { decodeMessageObject, encodeMessageObject, MessageCodecError } from "./message-codec";
import { apiType } from "./proto";
import { DESCRIPTOR, type SchemaEntry } from "./proto-schema";

/** protobufjs, the server's codec, is the reference: the clients' codec must agree with it byte for byte and key for key. */
const TO_OBJECT = { enums: String, longs: Number, defaults: true, oneofs: true } as const;

function messageNames(entry: SchemaEntry, prefix: string[] = []): string[] {
  const names: string[] = [];
  for (const [name, nested] of Object.entries(entry.nested ?? {})) {
    const path = [...prefix, name];
    if ((nested as SchemaEntry).fields !== undefined) names.push(path.join("."));
    names.push(...messageNames(nested as SchemaEntry, path));
  }
  return names;
}

const MESSAGES = messageNames(DESCRIPTOR);

/** A deterministic pseudo-random sequence (xorshift32), so a failure repeats. */
function random(seed: number): () => number {
  let state = seed || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

const SAMPLES: Record<string, unknown[]> = {
  string: ["", "a", "alice", "tty0 ü → ✓ 😀", "x".repeat(300)],
  bytes: [new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(200).fill(7)],
  bool: [false, true],
  uint32: [0, 1, 127, 128, 300, 2 ** 31, 2 ** 32 - 1],
  sint32: [0, -1, 1, -64, 64, 2 ** 31 - 1, -(2 ** 31)],
  uint64: [0, 1, 2 ** 32, 2 ** 53 - 1, 1_764_000_000_123, "42"],
};

/** An object for `type` with a random subset of its fields (one member per oneof), as a caller might pass it. */
function sample(type: Type, next: () => number, depth = 0): Record<string, unknown> {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
  const value = (field: (typeof type.fieldsArray)[number]): unknown => {
    const resolved = field.resolve().resolvedType;
    if (resolved instanceof Enum) return next() < 0.7 ? pick(Object.keys(resolved.values)) : pick(Object.values(resolved.values));
    if (resolved instanceof Type) return sample(resolved, next, depth + 1);
    return pick(SAMPLES[field.type]!);
  };
  const object: Record<string, unknown> = {};
  const chosenMember = new Map(type.oneofsArray.map((oneof) => [oneof, pick(oneof.fieldsArray)]));
  for (const field of type.fieldsArray) {
    if (field.partOf && chosenMember.get(field.partOf) !== field) continue;
    if (next() < 0.25 || (depth > 2 && field.resolvedType instanceof Type)) continue;
    object[field.name] = field.repeated ? Array.from({ length: Math.floor(next() * 4) }, () => value(field)) : value(field);
  }
  return object;
}

/** Keys in order and byte arrays as arrays, so order and content are compared. */
const canonical = (value: unknown) => JSON.stringify(value, (_key, v) => (v instanceof Uint8Array ? { bytes: Array.from(v) } : v));

function reference(fullName: string, request: object): { bytes: Uint8Array; object: Record<string, unknown> } {
  const type = apiType(fullName);
  const bytes = type.encode(type.fromObject(request)).finish();
  return { bytes, object: type.toObject(type.decode(bytes), TO_OBJECT) };
}

describe("the clients' message codec agrees with protobufjs", () => {
  test("the schema has messages of every kind the codec handles", () => {
    expect(MESSAGES.length).toBeGreaterThan(30);
    expect(MESSAGES).toContain("tacacsrs.agent.v1.StatusReply");
    expect(MESSAGES).toContain("grpc.health.v1.HealthCheckResponse");
  });

  test.each(MESSAGES)("%s: the same bytes, and the same object back (keys in the same order)", (fullName) => {
    const next = random(fullName.length * 7919 + fullName.charCodeAt(fullName.length - 1));
    for (let i = 0; i < 40; i++) {
      const request = sample(apiType(fullName), next);
      const expected = reference(fullName, request);
      const bytes = encodeMessageObject(fullName, request);
      expect(Array.from(bytes)).toEqual(Array.from(expected.bytes));
      expect(canonical(decodeMessageObject(fullName, expected.bytes))).toBe(canonical(expected.object));
    }
  });

  test("an empty reply is every default: [] for repeated fields, null for messages, the first enum name", () => {
    const fullName = "tacacsrs.agent.v1.StatusReply";
    expect(canonical(decodeMessageObject(fullName, new Uint8Array(0)))).toBe(canonical(reference(fullName, {}).object));
  });

  test("proto3 defaults are not sent (but a oneof member is), unknown enum names are left out, enums go by number too", () => {
    const fullName = "tacacsrs.agent.v1.AuthorizationRequest";
    for (const request of [{ privilegeLevel: 0, user: "" }, { privilegeLevel: "7" }, { authenticationContext: "NO_SUCH_NAME" }, { authenticationContext: 2 }, { authenticationContext: 77 }]) {
      expect(Array.from(encodeMessageObject(fullName, request))).toEqual(Array.from(reference(fullName, request).bytes));
    }
    expect(encodeMessageObject(fullName, { privilegeLevel: 0, user: "", authenticationContext: "NO_SUCH_NAME" }).length).toBe(0);
    const reply = "tacacsrs.agent.v1.AuthorizationReply";
    const defaultMember = { response: {} };
    expect(Array.from(encodeMessageObject(reply, defaultMember))).toEqual(Array.from(reference(reply, defaultMember).bytes));
    expect(encodeMessageObject(reply, defaultMember).length).toBe(2);
  });

  test("fields the schema does not know are skipped, as protobufjs does", () => {
    const fullName = "tacacsrs.agent.v1.AccountingReply";
    const { bytes, object } = reference(fullName, { response: { status: "ACCOUNTING_STATUS_SUCCESS", serverMsg: "ok" } });
    // field 999 as a varint, as a length-delimited value and as fixed32 / fixed64
    const unknown = [0xb8, 0x3e, 0x05, 0xba, 0x3e, 0x02, 0x61, 0x62, 0xbd, 0x3e, 1, 2, 3, 4, 0xb9, 0x3e, 1, 2, 3, 4, 5, 6, 7, 8];
    const withUnknown = new Uint8Array([...unknown, ...bytes, ...unknown]);
    expect(canonical(decodeMessageObject(fullName, withUnknown))).toBe(canonical(object));
  });

  test("truncated or malformed bytes are a MessageCodecError, never a partial object", () => {
    const fullName = "tacacsrs.agent.v1.AuthorizationReply";
    const { bytes } = reference(fullName, { response: { status: "AUTHORIZATION_STATUS_PASS_ADD", serverMsg: "hello", args: [{ name: "priv-lvl", value: "15", mandatory: true }, { name: "timeout", value: "60" }] } });
    for (let cut = 1; cut < bytes.length; cut++) {
      const truncated = bytes.subarray(0, cut);
      let outcome: unknown;
      try {
        outcome = decodeMessageObject(fullName, truncated);
      } catch (error) {
        outcome = error;
      }
      // A cut between two fields is a shorter valid message; anything else must fail cleanly.
      if (!(outcome instanceof MessageCodecError)) expect(canonical(outcome)).toBe(canonical(apiType(fullName).toObject(apiType(fullName).decode(truncated), TO_OBJECT)));
    }
    expect(() => decodeMessageObject(fullName, new Uint8Array([0x0a, 0x05, 0x01]))).toThrow(MessageCodecError);
    expect(() => decodeMessageObject(fullName, new Uint8Array([0x7b]))).toThrow("invalid wire type 3"); // unknown field 15, a group
    expect(() => decodeMessageObject(fullName, new Uint8Array([0x08, 0x01]))).toThrow("AuthorizationReply.response: wire type 0, expected 2");
    expect(() => decodeMessageObject(fullName, new Uint8Array(11).fill(0xff))).toThrow("invalid varint");
  });

  test("a value of the wrong shape is a TypeError naming the field", () => {
    expect(() => encodeMessageObject("tacacsrs.agent.v1.AuthorizationRequest", { args: "cmd=ls" })).toThrow(".tacacsrs.agent.v1.AuthorizationRequest.args: array expected");
    expect(() => encodeMessageObject("tacacsrs.agent.v1.AuthorizationRequest", { args: ["cmd=ls"] })).toThrow(".tacacsrs.agent.v1.AuthorizationRequest.args: object expected");
    expect(() => encodeMessageObject("tacacsrs.agent.v1.NoSuchMessage", {})).toThrow("no message type tacacsrs.agent.v1.NoSuchMessage");
  });
});
