/**
 * The attacking peer of hostile-peers.test.ts (issue 19), run as another uid (setpriv): opens
 * CONNECTIONS connections to the agent's socket, completes a health Check on each (so no
 * connection is "unproductive" and evictable), then opens STREAMS never-ending calls on each of
 * the first HOLDERS connections: Authorization HEADERS without a body and a grpc-timeout of
 * 99999999H. Prints one JSON line of what it got, then holds everything until killed.
 *
 *   bun test/reliability/peer-attacker.ts SOCKET CONNECTIONS HOLDERS STREAMS
 */
import { RawH2 } from "../support/hostile-client";
import { FrameType, frame, grpcMessage } from "./h2-frames";

const [socket, connections, holders, streams] = [process.argv[2]!, ...process.argv.slice(3, 6).map(Number)] as [string, number, number, number];
const CHECK = "/grpc.health.v1.Health/Check";
const AUTHORIZATION = "/tacacsrs.agent.v1.TacacsAgent/Authorization";
const BATCH = 32;

/** A connection that completed a health Check, or undefined when the agent refused it. */
async function productive(): Promise<RawH2 | undefined> {
  // A refused connection may be closed before connect() returns (ECONNRESET).
  const raw = await RawH2.handshake(socket).catch(() => undefined);
  if (raw === undefined) return undefined;
  await raw.write(raw.request(1, CHECK), frame(FrameType.Data, 0x1, 1, grpcMessage(new Uint8Array(0))));
  await raw.wait(() => raw.ended.has(1) || raw.closed, 10_000);
  if (raw.ended.has(1) && !raw.closed) return raw;
  raw.close();
  return undefined;
}

const open: RawH2[] = [];
let refused = 0;
for (let at = 0; at < connections; at += BATCH) {
  const batch = await Promise.all(Array.from({ length: Math.min(BATCH, connections - at) }, productive));
  for (const raw of batch) {
    if (raw) open.push(raw);
    else refused++;
  }
}
const holding = open.slice(0, holders);
await Promise.all(
  holding.map((raw) => {
    const frames: Uint8Array[] = [];
    for (let i = 1; i <= streams; i++) frames.push(raw.request(2 * i + 1, AUTHORIZATION, [["grpc-timeout", "99999999H"]]));
    return raw.write(...frames);
  }),
);
await Promise.all(holding.map((raw) => raw.sync()));
await Bun.sleep(300);
// A held call has no answer yet; a refused one was answered at once (RESOURCE_EXHAUSTED) or reset.
let held = 0;
for (const raw of holding) {
  for (let i = 1; i <= streams; i++) if (!raw.answered.has(2 * i + 1) && !raw.resets.has(2 * i + 1)) held++;
}
console.log(JSON.stringify({ connections: open.length, refused, held, attempted: holding.length * streams }));
// Hold until killed.
setInterval(() => {}, 60_000);
