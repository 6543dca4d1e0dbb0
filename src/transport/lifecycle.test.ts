import { expect, test } from "bun:test";
import { isConnecting, transition, type Phase, type PhaseEvent } from "./lifecycle";

const PHASES: Phase[] = ["connecting", "handshaking", "settling", "open", "closed"];
const EVENTS: PhaseEvent[] = ["connected", "handshaken", "established", "failed", "closed"];

/** Every edge of the machine; unlisted (phase, event) pairs must leave the phase unchanged. */
const EXPECTED: Record<Phase, Record<PhaseEvent, Phase>> = {
  connecting: { connected: "handshaking", handshaken: "connecting", established: "open", failed: "closed", closed: "closed" },
  handshaking: { connected: "handshaking", handshaken: "settling", established: "handshaking", failed: "closed", closed: "closed" },
  settling: { connected: "settling", handshaken: "settling", established: "open", failed: "closed", closed: "closed" },
  open: { connected: "open", handshaken: "open", established: "open", failed: "closed", closed: "closed" },
  closed: { connected: "closed", handshaken: "closed", established: "closed", failed: "closed", closed: "closed" },
};

const edges = PHASES.flatMap((from) => EVENTS.map((event) => [from, event, EXPECTED[from][event]] as const));

test.each(edges)("%s --%s--> %s", (from, event, to) => {
  expect(transition(from, event)).toBe(to);
});

test("plain TCP and TLS paths reach open", () => {
  expect(transition("connecting", "established")).toBe("open");
  const tls = (["connected", "handshaken", "established"] as const).reduce<Phase>(transition, "connecting");
  expect(tls).toBe("open");
});

test("isConnecting covers exactly the phases before open", () => {
  expect(PHASES.filter(isConnecting)).toEqual(["connecting", "handshaking", "settling"]);
});
