/**
 * Which key de-obfuscates a downstream client's packets (RFC 8907 §4.5).
 *
 * The chicken-and-egg: the engine picks the upstream server only once it has the plaintext
 * START body, yet the reference uses "the selected upstream server's secret" downstream.
 * We resolve it without guessing the engine's choice: the candidates are `--proxy-shared-secret`
 * alone when set, else the configured servers' secrets with the active server's first; the first
 * candidate whose de-obfuscated body parses as the expected body type wins (a wrong key yields
 * inconsistent length fields, so a false match is practically impossible). Replies then use the
 * key the client used, the only key it can read — even when failover picked a server with
 * another secret. "No secret" is a candidate too: it admits packets with the unencrypted flag.
 */
import type { Secret } from "../common/secret";
import {
  CodecError,
  decodeAcctRequest,
  decodeAuthenContinue,
  decodeAuthenStart,
  decodeAuthorRequest,
  decodePacket,
  Flags,
  PacketType,
  type Packet,
} from "../protocol";

/** A downstream key: a shared secret, or none (packets carry the unencrypted flag). */
export type DownstreamKey = Secret | undefined;

export interface KeySource {
  /** --proxy-shared-secret, if any: then it is the only key. */
  proxySharedSecret(): Secret | undefined;
  /** Secrets of the configured upstream servers, preference order (index 0 = preferred). */
  serverSecrets(): readonly DownstreamKey[];
  /** Index of the server new sessions go to (`EngineStatus.activeServer`). */
  activeServer(): number;
}

/** A downstream packet refused for its key; the message names no secret. */
export class DownstreamKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DownstreamKeyError";
  }
}

/** Candidate keys in trial order, duplicates removed. */
export function candidateKeys(source: KeySource): DownstreamKey[] {
  const proxySecret = source.proxySharedSecret();
  if (proxySecret) return [proxySecret];
  const secrets = source.serverSecrets();
  const active = source.activeServer();
  const ordered = active > 0 && active < secrets.length ? [secrets[active], ...secrets] : [...secrets];
  const unique: DownstreamKey[] = [];
  for (const key of ordered) if (!unique.some((seen) => sameKey(seen, key))) unique.push(key);
  return unique;
}

function sameKey(a: DownstreamKey, b: DownstreamKey): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Bun.deepEquals(a.reveal(), b.reveal());
}

/** Parses the plaintext body as the packet a client sends at this point; throws CodecError. */
function checkClientBody(type: PacketType, first: boolean, body: Uint8Array): void {
  if (type === PacketType.Authorization) decodeAuthorRequest(body);
  else if (type === PacketType.Accounting) decodeAcctRequest(body);
  else if (first) decodeAuthenStart(body);
  else decodeAuthenContinue(body);
}

/**
 * Decodes one client frame with the first fitting key. `first` selects START/REQUEST vs CONTINUE.
 * Throws DownstreamKeyError (key problems) or CodecError (malformed packet).
 */
export function decodeWithKeys(
  frame: Uint8Array,
  keys: readonly DownstreamKey[],
  first: boolean,
  maxBodyBytes: number,
): { packet: Packet; key: DownstreamKey } {
  const unencrypted = (frame[3] ?? 0) & Flags.Unencrypted;
  if (unencrypted) {
    if (!keys.includes(undefined)) throw new DownstreamKeyError("unencrypted packet refused: a shared secret is configured");
    const packet = decodePacket(frame, undefined, maxBodyBytes);
    checkClientBody(packet.header.type, first, packet.body);
    return { packet, key: undefined };
  }
  const secrets = keys.filter((key): key is Secret => key !== undefined);
  if (secrets.length === 0) throw new DownstreamKeyError("obfuscated packet refused: no shared secret is configured");
  let lastReason = "";
  for (const key of secrets) {
    try {
      const packet = decodePacket(frame, key.reveal(), maxBodyBytes);
      checkClientBody(packet.header.type, first, packet.body);
      return { packet, key };
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      lastReason = error.message;
    }
  }
  throw new DownstreamKeyError(`packet body does not parse with the configured shared secret: ${lastReason}`);
}
