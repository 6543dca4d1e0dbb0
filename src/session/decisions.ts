/**
 * Which held execs skip the round trip to the agent (pure; time injected):
 * - the allowlist: resolved paths the operator trusts without asking (the session's own shell,
 *   configured plumbing); they are neither authorized nor accounted;
 * - the per-session cache: the server's answer for the same path and arguments, kept for
 *   `ttlMs` so PATH lookups and loops do not send hundreds of identical requests.
 * Both trade exactness for speed: a rule changed on the server applies after the TTL.
 */
import type { CommandArg } from "../protocol/command-args";

export interface Decision {
  allowed: boolean;
  /** The server's message, for a denial. */
  message: string;
}

export interface CacheCounters {
  hits: number;
  misses: number;
  evictions: number;
  size: number;
}

/** The cache key of a command: the resolved path and the kept arguments, NUL-separated. */
export function commandKey(path: string, args: readonly CommandArg[], argc: number): string {
  let key = `${path}\0${argc}`;
  for (const arg of args) key += `\0${arg.length}\0${Buffer.from(arg.bytes).toString("latin1")}`;
  return key;
}

export class DecisionCache {
  readonly #entries = new Map<string, { decision: Decision; expiresAt: number }>();
  readonly #counters = { hits: 0, misses: 0, evictions: 0 };

  constructor(
    readonly ttlMs: number,
    readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  /** Entries held (expired ones included until looked up or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  get(key: string): Decision | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.expiresAt > this.now()) {
      this.#counters.hits++;
      return entry.decision;
    }
    if (entry !== undefined) this.#entries.delete(key);
    this.#counters.misses++;
    return undefined;
  }

  /** Caches `decision` until `expiresAt` (default: the TTL from now); returns when it expires, or undefined when nothing is cached. */
  set(key: string, decision: Decision, expiresAt = this.now() + this.ttlMs): number | undefined {
    if (this.ttlMs <= 0) return undefined;
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxEntries) {
      // Maps iterate in insertion order: the first key is the oldest.
      this.#entries.delete(this.#entries.keys().next().value!);
      this.#counters.evictions++;
    }
    this.#entries.set(key, { decision, expiresAt });
    return expiresAt;
  }

  counters(): CacheCounters {
    return { ...this.#counters, size: this.#entries.size };
  }
}
