/**
 * The API's protobuf schema as protobufjs types, for the server (the clients use message-codec.ts,
 * without protobufjs). The .proto files in proto/ are parsed at build time (the proto-descriptor
 * macro, proto-schema.ts) and the binary only rebuilds Roots from that JSON: no .proto text
 * parser at startup. Each top-level package gets its Root on first use, so the daemon answers
 * its first health check before the agent's larger schema is built. Field names are camelCase
 * (remote_address → remoteAddress).
 */
import { Reader, Root, Writer, type Type } from "protobufjs/light";
import { PREFIX_LENGTH, writePrefix } from "./framing";
import { DESCRIPTOR, serviceMethods, type MethodNames } from "./proto-schema";

export { AGENT_SERVICE, HEALTH_SERVICE } from "./proto-schema";

const roots = new Map<string, Root>();

/** The Root holding `fullName` (a type or service), built on first use. */
export function schemaRoot(fullName: string): Root {
  const pkg = fullName.split(".", 1)[0]!;
  let root = roots.get(pkg);
  if (root === undefined) {
    const nested = DESCRIPTOR.nested?.[pkg];
    if (nested === undefined) throw new Error(`no protobuf package ${pkg}`);
    root = Root.fromJSON({ nested: { [pkg]: nested } });
    roots.set(pkg, root);
  }
  return root;
}

/** A message type by its full name, e.g. "tacacsrs.agent.v1.AccountingRequest". */
export function apiType(fullName: string): Type {
  return schemaRoot(fullName).lookupType(fullName);
}

/** One RPC of a service: its HTTP/2 path and message types. */
export interface MethodDescriptor {
  /** "/package.Service/Method" */
  path: string;
  requestType: Type;
  responseType: Type;
  serverStreaming: boolean;
}

/** Every RPC of a service, read from the descriptor; the message types are built on first use. */
export function methodsOf(serviceName: string): MethodDescriptor[] {
  return serviceMethods(serviceName).map(lazyMethod);
}

function lazyMethod(method: MethodNames): MethodDescriptor {
  let types: { requestType: Type; responseType: Type } | undefined;
  const resolve = () => (types ??= { requestType: apiType(method.requestType), responseType: apiType(method.responseType) });
  return {
    path: method.path,
    serverStreaming: method.serverStreaming,
    get requestType() {
      return resolve().requestType;
    },
    get responseType() {
      return resolve().responseType;
    },
  };
}

/** protobufjs yields uint64 as a Long when the `long` package is present; our values fit a double. */
export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === "number" ? value : value.toNumber();
}

/** Buffer's toString, called on a plain Uint8Array (Bun accepts one): no Buffer view to make. */
const latin1 = Buffer.prototype.toString as (this: Uint8Array, encoding: "latin1", start: number, end: number) => string;

/**
 * protobufjs's Reader, except that an ASCII string is made in one native latin1 decode:
 * protobufjs builds a short one char by char, a rope that its first reader flattens again.
 * Other strings, and every error, are protobufjs's own.
 */
class FlatStringReader extends Reader {
  override stringVerify(): string {
    const at = this.pos;
    const end = this.size() + this.pos;
    if (end <= this.len && isAscii(this.buf, this.pos, end)) {
      const value = latin1.call(this.buf, "latin1", this.pos, end);
      this.pos = end;
      return value;
    }
    this.pos = at;
    return super.stringVerify();
  }
}

function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  let bits = 0;
  for (let i = start; i < end; i++) bits |= bytes[i]!;
  return bits < 0x80;
}

/** A message of `type` from its encoding (protobufjs's decode, with flat strings). */
export function decodeMessage(type: Type, bytes: Uint8Array): unknown {
  return type.decode(new FlatStringReader(bytes));
}

const EMPTY_PREFIX = new Uint8Array(PREFIX_LENGTH);

/** One writer for every reply: encoding is synchronous, and each reply is copied out of it. */
const replyWriter = new Writer();

/**
 * `message` encoded as `type`, with its 5-byte prefix, in one fresh array: the prefix is
 * reserved in the reused writer, so there is no intermediate buffer and no second copy.
 */
export function encodeReply(type: Type, message: object): Uint8Array {
  const writer = replyWriter.reset();
  writer.raw(EMPTY_PREFIX);
  type.encode(message, writer);
  writePrefix(writer.buf, writer.pos - PREFIX_LENGTH);
  return writer.buf.slice(0, writer.pos);
}
