import { afterEach, expect, spyOn, test } from "bun:test";
import { logger, setVerbosity } from "./log";

afterEach(() => setVerbosity(0));

/** What the loggers wrote to stderr while `run` ran. */
function captured(run: () => void): string {
  let text = "";
  const spy = spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    text += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
    return true;
  });
  try {
    run();
  } finally {
    spy.mockRestore();
  }
  return text;
}

test("trace lines appear at -vvvv only, without a stack trace", () => {
  const log = logger("unit");
  setVerbosity(3);
  expect(captured(() => log.trace("packet header at debug level"))).toBe("");
  setVerbosity(4);
  const text = captured(() => log.trace("packet header at trace level"));
  expect(text).toContain("packet header at trace level");
  expect(text).not.toMatch(/\n\s+at /);
});

test("the verbosity scale: errors always, warnings from -v, debug from -vvv", () => {
  const log = logger("unit");
  setVerbosity(0);
  expect(captured(() => (log.error("e"), log.warn("w")))).not.toContain("w");
  setVerbosity(1);
  expect(captured(() => log.warn("w1"))).toContain("w1");
  setVerbosity(2);
  expect(captured(() => log.debug("d2"))).toBe("");
  setVerbosity(3);
  expect(captured(() => log.debug("d3"))).toContain("d3");
});
