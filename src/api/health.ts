/**
 * grpc.health.v1.Health: SERVING for the whole server ("") and for each hosted service while the
 * API listens; NOT_FOUND for other names (Check) or SERVICE_UNKNOWN (Watch), as the standard says.
 * Watch sends the status once and holds the stream until the caller or the server ends it.
 */
import { AGENT_SERVICE, HEALTH_SERVICE, methodsOf } from "./proto";
import type { Route } from "./server";
import { GrpcError, Status } from "./status";

const ServingStatus = { SERVING: 1, SERVICE_UNKNOWN: 3 } as const;
const KNOWN_SERVICES = new Set(["", AGENT_SERVICE, HEALTH_SERVICE]);

export function healthRoutes(): Route[] {
  const [check, watch] = ["Check", "Watch"].map((name) => methodsOf(HEALTH_SERVICE).find((m) => m.path.endsWith(`/${name}`))!);
  return [
    {
      method: check!,
      kind: "unary",
      handle: async (request) => {
        const service = (request as { service: string }).service;
        if (!KNOWN_SERVICES.has(service)) throw new GrpcError(Status.NOT_FOUND, `unknown service ${JSON.stringify(service.slice(0, 100))}`);
        return { status: ServingStatus.SERVING };
      },
    },
    {
      method: watch!,
      kind: "server-stream",
      handle: (request, context, send) => {
        const service = (request as { service: string }).service;
        send({ status: KNOWN_SERVICES.has(service) ? ServingStatus.SERVING : ServingStatus.SERVICE_UNKNOWN });
        // The status never changes while we listen; the server ends the stream on shutdown.
        return new Promise<void>((_, reject) => context.cancellation.onCancel(reject));
      },
    },
  ];
}
