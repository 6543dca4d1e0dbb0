/**
 * grpc.health.v1.Health, telling the truth (https://github.com/grpc/grpc/blob/master/doc/health-checking.md):
 *
 * - readiness: "" (the whole server), "tacacsrs.agent.v1.TacacsAgent" and "readiness" are
 *   NOT_SERVING while no upstream server is responsive (failover state NoResponsiveServer) and
 *   SERVING again as soon as one answers;
 * - "liveness" and "grpc.health.v1.Health": SERVING while the process answers at all;
 * - "startup": NOT_SERVING until the startup warm-up has tried the servers, then SERVING.
 *
 * Other names: NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch), as the standard says. Watch sends
 * the status at once and again at every change, until the caller or the server ends the stream.
 */
import type { EngineStatus, UpstreamEngine } from "../upstream/types";
import { AGENT_SERVICE, HEALTH_SERVICE, methodsOf } from "./proto";
import type { Route } from "./server";
import { GrpcError, Status } from "./status";

export const ServingStatus = { SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
type Serving = (typeof ServingStatus)[keyof typeof ServingStatus];

type Probe = "readiness" | "liveness" | "startup";
const PROBE_OF: ReadonlyMap<string, Probe> = new Map([
  ["", "readiness"],
  [AGENT_SERVICE, "readiness"],
  ["readiness", "readiness"],
  [HEALTH_SERVICE, "liveness"],
  ["liveness", "liveness"],
  ["startup", "startup"],
]);

const responsive = (status: EngineStatus): boolean => status.state !== "NoResponsiveServer";

/** The health of the agent, from the engine's failover state and the daemon's startup. */
export class AgentHealth {
  #ready: boolean;
  #started: boolean;
  readonly #watchers = new Set<() => void>();

  /** `started`: the startup warm-up is over (tests and library use start there). */
  constructor(engine: UpstreamEngine, started = true) {
    this.#ready = responsive(engine.status());
    this.#started = started;
    engine.onStateChange((status) => this.#set(responsive(status), this.#started));
  }

  /** The startup warm-up has tried the servers. */
  startupDone(): void {
    this.#set(this.#ready, true);
  }

  status(service: string): Serving | undefined {
    const probe = PROBE_OF.get(service);
    if (probe === undefined) return undefined;
    const up = probe === "liveness" || (probe === "readiness" ? this.#ready : this.#started);
    return up ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  watch(listener: () => void): () => void {
    this.#watchers.add(listener);
    return () => void this.#watchers.delete(listener);
  }

  #set(ready: boolean, started: boolean): void {
    if (ready === this.#ready && started === this.#started) return;
    this.#ready = ready;
    this.#started = started;
    for (const watcher of this.#watchers) watcher();
  }
}

export function healthRoutes(health: AgentHealth): Route[] {
  const [check, watch] = ["Check", "Watch"].map((name) => methodsOf(HEALTH_SERVICE).find((m) => m.path.endsWith(`/${name}`))!);
  return [
    {
      method: check!,
      kind: "unary",
      handle: async (request) => {
        const service = (request as { service: string }).service;
        const status = health.status(service);
        if (status === undefined) throw new GrpcError(Status.NOT_FOUND, `unknown service ${JSON.stringify(service.slice(0, 100))}`);
        return { status };
      },
    },
    {
      method: watch!,
      kind: "server-stream",
      handle: (request, context, send) => {
        const service = (request as { service: string }).service;
        let last = health.status(service) ?? ServingStatus.SERVICE_UNKNOWN;
        send({ status: last });
        const unwatch = health.watch(() => {
          const now = health.status(service) ?? ServingStatus.SERVICE_UNKNOWN;
          if (now !== last) send({ status: (last = now) });
        });
        // The server ends the stream on shutdown; the caller by cancelling.
        return new Promise<void>((_, reject) =>
          context.cancellation.onCancel((reason) => {
            unwatch();
            reject(reason);
          }),
        );
      },
    },
  ];
}
