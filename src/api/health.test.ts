import { expect, test } from "bun:test";
import { Cancellation } from "../common/cancellation";
import type { EngineStatus, FailoverStateName, UpstreamEngine } from "../upstream/types";
import { AgentHealth, healthRoutes, ServingStatus } from "./health";
import type { CallContext, Route } from "./server";
import { GrpcError } from "./status";

/** An engine whose failover state the test sets. */
function engineIn(state: FailoverStateName): { engine: UpstreamEngine; set(state: FailoverStateName): void } {
  let status: EngineStatus = { state, activeServer: 0, servers: [] };
  const listeners: ((status: EngineStatus) => void)[] = [];
  const engine = {
    status: () => status,
    onStateChange(listener: (status: EngineStatus) => void) {
      listeners.push(listener);
      return () => {};
    },
  } as unknown as UpstreamEngine;
  return {
    engine,
    set(next) {
      status = { ...status, state: next };
      for (const listener of listeners) listener(status);
    },
  };
}

const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = ServingStatus;

test("readiness follows the failover state; liveness stays SERVING; startup turns SERVING once", () => {
  const { engine, set } = engineIn("PreferredActive");
  const health = new AgentHealth(engine, false);
  const all = () => ["", "tacacsrs.agent.v1.TacacsAgent", "readiness", "liveness", "grpc.health.v1.Health", "startup"].map((name) => health.status(name));
  expect(all()).toEqual([SERVING, SERVING, SERVING, SERVING, SERVING, NOT_SERVING]);
  set("NoResponsiveServer");
  health.startupDone();
  expect(all()).toEqual([NOT_SERVING, NOT_SERVING, NOT_SERVING, SERVING, SERVING, SERVING]);
  set("FailedOver");
  expect(all()).toEqual([SERVING, SERVING, SERVING, SERVING, SERVING, SERVING]);
  expect(health.status("other")).toBeUndefined();
});

test("Watch sends the status, then every change of it, until cancelled; Check of an unknown name is NOT_FOUND", async () => {
  const { engine, set } = engineIn("PreferredActive");
  const [check, watch] = healthRoutes(new AgentHealth(engine)) as [Extract<Route, { kind: "unary" }>, Extract<Route, { kind: "server-stream" }>];
  const context: CallContext = { deadline: Date.now() + 10_000, cancellation: new Cancellation(), peer: undefined };
  const sent: unknown[] = [];
  const streaming = watch.handle({ service: "" }, context, (reply) => sent.push(reply));
  set("FailedOver"); // still ready: nothing sent
  set("NoResponsiveServer");
  set("PreferredActive");
  context.cancellation.cancel(new Error("caller left"));
  await expect(streaming).rejects.toThrow("caller left");
  set("NoResponsiveServer"); // after the stream ended: nothing sent
  expect(sent).toEqual([{ status: SERVING }, { status: NOT_SERVING }, { status: SERVING }]);

  const unknown: unknown[] = [];
  const other = { deadline: 0, cancellation: new Cancellation(), peer: undefined };
  const ended = watch.handle({ service: "nope" }, other, (reply) => unknown.push(reply));
  other.cancellation.cancel(new Error("done"));
  await ended.catch(() => {});
  expect(unknown).toEqual([{ status: SERVICE_UNKNOWN }]);
  await expect(check.handle({ service: "nope" }, context)).rejects.toBeInstanceOf(GrpcError);
  expect(await check.handle({ service: "liveness" }, context)).toEqual({ status: SERVING });
});
