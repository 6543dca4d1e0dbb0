/** Polling and port helpers shared by the loopback tests. */

/** Polls `check` every 5 ms until it holds; fails after `timeoutMs`, naming `what`. */
export async function until(check: () => boolean, timeoutMs = 3_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await Bun.sleep(5);
  }
}

/** A loopback TCP port that was free a moment ago (for peers that cannot report an ephemeral port). */
export function freeLoopbackPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}
