/**
 * A spooled record keeps the time it happened (RFC 8907 §8.3 start_time / stop_time, seconds
 * since the epoch): a record without one gets it from the time the agent accepted it, before it
 * waits in the spool for minutes or days. Pure.
 */
import { AcctFlags, decodeAcctRequest, encodeAcctRequest } from "../protocol";

/** The argument a record's flags call for: stop_time for STOP, start_time for START and watchdogs. */
export function timeArgumentFor(flags: number): "start_time" | "stop_time" {
  return flags & AcctFlags.Stop ? "stop_time" : "start_time";
}

const MAX_ARGS = 255;

/**
 * The body with start_time or stop_time added when it carries neither; the same body otherwise
 * (or when its 255 arguments leave no room). Throws CodecError for a body that is no accounting REQUEST.
 */
export function stampTime(body: Uint8Array, acceptedAtMs: number): Uint8Array {
  const request = decodeAcctRequest(body);
  if (request.args.some((arg) => arg.name === "start_time" || arg.name === "stop_time")) return body;
  if (request.args.length >= MAX_ARGS) return body;
  const value = String(Math.floor(acceptedAtMs / 1000));
  return encodeAcctRequest({ ...request, args: [...request.args, { name: timeArgumentFor(request.flags), value, mandatory: true }] });
}
