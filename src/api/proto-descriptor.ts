/**
 * A Bun macro: proto.ts imports it `with { type: "macro" }`, so it runs when the bundler (or
 * `bun test`) transpiles proto.ts and its JSON result is inlined there. The .proto files in proto/
 * stay the only source; the binary carries the parsed descriptor and never parses .proto text.
 */
import { readFileSync } from "node:fs";
import protobuf from "protobufjs";
import { errorMessage } from "../common/error-message";

/** The API's .proto files. */
export const API_PROTO_FILES = ["tacacsrs_agent.proto", "grpc/health/v1/health.proto"].map((file) => new URL(`../../proto/${file}`, import.meta.url));

/** Parses and resolves `files` into one protobufjs JSON descriptor; field names camelCase (remote_address → remoteAddress). */
export function descriptorOf(files: readonly URL[]): protobuf.INamespace {
  const root = new protobuf.Root();
  for (const file of files) {
    try {
      protobuf.parse(readFileSync(file, "utf8"), root, { keepCase: false });
    } catch (error) {
      throw new Error(`${file.pathname}: ${errorMessage(error)}`);
    }
  }
  root.resolveAll();
  return root.toJSON();
}

export function apiDescriptor(): protobuf.INamespace {
  return descriptorOf(API_PROTO_FILES);
}
