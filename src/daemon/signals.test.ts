import { expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import { DaemonSignals } from "./signals";

function fixture() {
  const source = new EventEmitter();
  return { source, signals: new DaemonSignals(source) };
}

test("a stop signal during a start-up step abandons it; the first signal is the one kept", async () => {
  const { source, signals } = fixture();
  const slowLookup = new Promise<string>(() => {});
  const loading = signals.unlessStopped(slowLookup);
  expect(signals.stopSignal).toBeUndefined();
  source.emit("SIGINT");
  source.emit("SIGTERM");
  expect(await loading).toBeUndefined();
  expect(await signals.stopped).toBe("SIGINT");
  expect(signals.stopSignal).toBe("SIGINT");
});

test("without a stop signal the step's result comes through", async () => {
  const { signals } = fixture();
  expect(await signals.unlessStopped(Promise.resolve("config"))).toBe("config");
  expect(signals.stopSignal).toBeUndefined();
});

test("SIGHUPs before the daemon can reload make one reload once it can; later ones reload each time", () => {
  const { source, signals } = fixture();
  let reloads = 0;
  source.emit("SIGHUP");
  source.emit("SIGHUP");
  signals.onReload(() => reloads++);
  expect(reloads).toBe(1);
  source.emit("SIGHUP");
  expect(reloads).toBe(2);
});

test("no reload once stopping, neither a pending one nor a new one", () => {
  const { source, signals } = fixture();
  let reloads = 0;
  source.emit("SIGTERM");
  source.emit("SIGHUP");
  signals.onReload(() => reloads++);
  source.emit("SIGHUP");
  expect(reloads).toBe(0);
});
