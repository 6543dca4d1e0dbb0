/**
 * The API's schema as plain data: the descriptor the proto-descriptor macro makes from proto/ at
 * build time, and name lookups in it. No protobufjs at run time (its types only), so the clients
 * (message-codec.ts) use the schema without loading it; proto.ts builds protobufjs Roots from it.
 */
import type { IEnum, INamespace, IType } from "protobufjs/light";
import { apiDescriptor } from "./proto-descriptor" with { type: "macro" };

export const AGENT_SERVICE = "tacacsrs.agent.v1.TacacsAgent";
export const HEALTH_SERVICE = "grpc.health.v1.Health";

export const DESCRIPTOR: INamespace = apiDescriptor();

/** What a name denotes in the descriptor: a message, an enum, a service, or a namespace. */
export type SchemaEntry = INamespace & Partial<IType> & Partial<IEnum> & { methods?: Record<string, { requestType: string; responseType: string; responseStream?: boolean }> };

/** The entry at a full name ("tacacsrs.agent.v1.AccountingRequest"), or undefined. */
export function schemaEntry(fullName: string): SchemaEntry | undefined {
  let entry: SchemaEntry | undefined = DESCRIPTOR;
  for (const part of fullName.split(".")) entry = entry?.nested?.[part] as SchemaEntry | undefined;
  return entry;
}

/**
 * The full name a type reference in `scope` (the full name of the message or service where it is
 * written) denotes, looked up from the innermost scope outwards as protoc does.
 */
export function resolveTypeName(scope: string, reference: string): string | undefined {
  if (reference.startsWith(".")) return schemaEntry(reference.slice(1)) ? reference.slice(1) : undefined;
  const parts = scope.split(".");
  for (let depth = parts.length; depth >= 0; depth--) {
    const candidate = [...parts.slice(0, depth), reference].join(".");
    if (schemaEntry(candidate)) return candidate;
  }
  return undefined;
}

/** One RPC of a service as the descriptor states it: its HTTP/2 path and its messages' full names. */
export interface MethodNames {
  /** "/package.Service/Method" */
  path: string;
  requestType: string;
  responseType: string;
  serverStreaming: boolean;
}

export function serviceMethods(serviceName: string): MethodNames[] {
  const methods = schemaEntry(serviceName)?.methods;
  if (methods === undefined) throw new Error(`no protobuf service ${serviceName}`);
  const resolve = (reference: string) => {
    const fullName = resolveTypeName(serviceName, reference);
    if (fullName === undefined) throw new Error(`${serviceName}: no message type ${reference}`);
    return fullName;
  };
  return Object.entries(methods).map(([name, method]) => ({
    path: `/${serviceName}/${name}`,
    requestType: resolve(method.requestType),
    responseType: resolve(method.responseType),
    serverStreaming: method.responseStream === true,
  }));
}
