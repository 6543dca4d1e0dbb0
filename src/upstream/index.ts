/**
 * The upstream engine: persistent connections with single-connect multiplexing, ordered failover
 * with preferred-server probing, RFC 9105 counters. See engine.ts for the delivery rules.
 */
export { createEngine, type EngineDeps } from "./engine";
export { systemClock, systemRandom, type Clock, type Random } from "./clock";
export * from "./types";
