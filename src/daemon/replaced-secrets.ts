/**
 * What a reload wipes of the configuration it replaces. The PSKs: each TLS handshake works on its
 * own copy of the key (wiped once the early secret is derived), so neither a draining pool nor a
 * connect under way reads the configuration's bytes again. TACACS+ shared secrets and TLS client
 * keys are left to the garbage collector: proxy connections opened before the reload still read
 * their Secret objects until they end.
 */
import type { RuntimeConfig } from "../config";

/** Wipes the PSKs of `replaced` that `current` does not use; returns how many were wiped. */
export function wipeReplacedPskKeys(replaced: RuntimeConfig, current: RuntimeConfig): number {
  const kept = new Set(current.engine.servers.map((server) => (server.security.kind === "psk" ? server.security.key : undefined)));
  let wiped = 0;
  for (const server of replaced.engine.servers) {
    if (server.security.kind !== "psk" || kept.has(server.security.key)) continue;
    server.security.key.wipe();
    wiped++;
  }
  return wiped;
}
