import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import protobuf from "protobufjs";
import { AGENT_SERVICE, apiType, decodeMessage, HEALTH_SERVICE, methodsOf, schemaRoot } from "./proto";
import { API_PROTO_FILES, descriptorOf } from "./proto-descriptor";

/** What encoding and decoding depend on, per field, enum and method. */
function wireSemantics(root: protobuf.Root): string[] {
  root.resolveAll();
  const lines: string[] = [];
  const walk = (namespace: protobuf.NamespaceBase) => {
    for (const nested of namespace.nestedArray) {
      if (nested instanceof protobuf.Type) {
        for (const f of nested.fieldsArray) {
          const traits = [f.id, f.type, f.repeated, f.packed, f.hasPresence, f.long, f.bytes, f.partOf?.name, f.resolvedType?.fullName];
          lines.push(`${f.fullName} ${JSON.stringify(traits)}`);
        }
      } else if (nested instanceof protobuf.Enum) {
        lines.push(`${nested.fullName} ${JSON.stringify(nested.values)}`);
      } else if (nested instanceof protobuf.Service) {
        for (const m of nested.methodsArray) lines.push(`${m.fullName} ${m.requestType} ${m.responseType} ${m.responseStream === true}`);
      }
      if (nested instanceof protobuf.Namespace) walk(nested);
    }
  };
  walk(root);
  return lines;
}

test("the build-time descriptor has the same wire semantics as the .proto text", async () => {
  const parsed = new protobuf.Root();
  for (const file of API_PROTO_FILES) protobuf.parse(await Bun.file(file).text(), parsed, { keepCase: false });
  const expected = wireSemantics(parsed);
  expect(expected.length).toBeGreaterThan(50);
  // One Root per package (built on first use), in the order of the files.
  expect([...wireSemantics(schemaRoot(AGENT_SERVICE)), ...wireSemantics(schemaRoot(HEALTH_SERVICE))]).toEqual(expected);
});

test("a package's Root is built on first use, once", () => {
  expect(schemaRoot(HEALTH_SERVICE)).toBe(schemaRoot("grpc.health.v1.HealthCheckRequest"));
  expect(schemaRoot(HEALTH_SERVICE)).not.toBe(schemaRoot(AGENT_SERVICE));
  expect(() => schemaRoot("nosuch.Service")).toThrow("no protobuf package nosuch");
  expect(() => methodsOf("tacacsrs.agent.v1.NoSuch")).toThrow("no protobuf service tacacsrs.agent.v1.NoSuch");
});

test("both hosted services resolve their methods", () => {
  expect(methodsOf(AGENT_SERVICE).map((m) => m.path)).toContain("/tacacsrs.agent.v1.TacacsAgent/Accounting");
  expect(methodsOf(HEALTH_SERVICE).map((m) => [m.path, m.serverStreaming])).toEqual([
    ["/grpc.health.v1.Health/Check", false],
    ["/grpc.health.v1.Health/Watch", true],
  ]);
});

test("the bundled schema carries no .proto text parser", async () => {
  const result = await Bun.build({ entrypoints: [new URL("./proto.ts", import.meta.url).pathname], target: "bun" });
  expect(result.success).toBe(true);
  const bundle = await result.outputs[0]!.text();
  const carries = { schema: bundle.includes("TacacsAgent"), protoText: bundle.includes('syntax = "proto3"'), parser: bundle.includes("function tokenize(") };
  expect(carries).toEqual({ schema: true, protoText: false, parser: false });
});

test("a broken .proto fails the build with its file and line", () => {
  const dir = mkdtempSync(join(tmpdir(), "proto-"));
  try {
    const file = join(dir, "broken.proto");
    writeFileSync(file, 'syntax = "proto3";\nmessage Broken {\n  string name = ;\n}\n');
    expect(() => descriptorOf([pathToFileURL(file)])).toThrow(new RegExp(`^${file}: illegal .*line 3`));
    writeFileSync(file, 'syntax = "proto3";\nmessage Dangling {\n  Missing field = 1;\n}\n');
    expect(() => descriptorOf([pathToFileURL(file)])).toThrow(/no such Type or Enum 'Missing'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("decodeMessage gives protobufjs's values and errors", () => {
  const type = apiType("tacacsrs.agent.v1.AccountingRequest");
  const samples = [{}, { user: "admin", port: "", remoteAddress: "10.0.0.1", command: "x".repeat(300), commandArguments: ["é", "日本語", "a\u0000b\u007f", "🙂", "tail é"] }];
  for (const sample of samples) {
    const bytes = type.encode(sample).finish();
    expect(decodeMessage(type, bytes)).toEqual(type.decode(bytes));
  }
  // user: invalid UTF-8 (0xc3 0x28), then a length beyond the message.
  for (const bytes of [new Uint8Array([0x0a, 2, 0xc3, 0x28]), new Uint8Array([0x0a, 5, 0x61])]) {
    let expected: unknown;
    try {
      type.decode(bytes);
    } catch (error) {
      expected = error;
    }
    expect(expected).toBeInstanceOf(Error);
    expect(() => decodeMessage(type, bytes)).toThrow((expected as Error).message);
  }
});
