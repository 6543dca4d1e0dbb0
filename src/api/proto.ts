/**
 * The API's protobuf schema. The .proto files in proto/ are parsed at build time (the
 * proto-descriptor macro) and the binary only rebuilds the Root from that JSON: no .proto text
 * parser at startup. Field names are camelCase (remote_address → remoteAddress).
 */
import { Root, type Type } from "protobufjs/light";
import { apiDescriptor } from "./proto-descriptor" with { type: "macro" };

export const AGENT_SERVICE = "tacacsrs.agent.v1.TacacsAgent";
export const HEALTH_SERVICE = "grpc.health.v1.Health";

export const apiRoot: Root = Root.fromJSON(apiDescriptor());

/** One RPC of a service: its HTTP/2 path and message types. */
export interface MethodDescriptor {
  /** "/package.Service/Method" */
  path: string;
  requestType: Type;
  responseType: Type;
  serverStreaming: boolean;
}

/** Every RPC of the services we host, by path. */
export function methodsOf(serviceName: string): MethodDescriptor[] {
  const service = apiRoot.lookupService(serviceName);
  return service.methodsArray.map((method) => {
    method.resolve();
    return {
      path: `/${serviceName}/${method.name}`,
      requestType: method.resolvedRequestType!,
      responseType: method.resolvedResponseType!,
      serverStreaming: method.responseStream === true,
    };
  });
}

/** protobufjs yields uint64 as a Long when the `long` package is present; our values fit a double. */
export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === "number" ? value : value.toNumber();
}
