/**
 * The API's protobuf schema, embedded in the binary as text (a compiled binary has no files on
 * disk) and parsed once with protobufjs. Field names are camelCase (remote_address → remoteAddress).
 */
import protobuf from "protobufjs";
import agentProto from "../../proto/tacacsrs_agent.proto" with { type: "text" };
import healthProto from "../../proto/grpc/health/v1/health.proto" with { type: "text" };

export const AGENT_SERVICE = "tacacsrs.agent.v1.TacacsAgent";
export const HEALTH_SERVICE = "grpc.health.v1.Health";

function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  protobuf.parse(agentProto, root, { keepCase: false });
  protobuf.parse(healthProto, root, { keepCase: false });
  root.resolveAll();
  return root;
}

export const apiRoot: protobuf.Root = buildRoot();

/** One RPC of a service: its HTTP/2 path and message types. */
export interface MethodDescriptor {
  /** "/package.Service/Method" */
  path: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
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
