/**
 * The client side of a TLS 1.3 external-PSK handshake (RFC 8446 §2.2, §4) as an explicit state
 * machine: `startHandshake` yields the first ClientHello, and `transition` takes each handshake
 * message the server sends and returns the next state plus the actions for the record layer
 * (send a message, install keys, report the connection established). No I/O here.
 *
 *   wait_server_hello ──HRR──> wait_server_hello (retried) ──ServerHello──> wait_encrypted_extensions
 *   ──EncryptedExtensions──> wait_finished ──Finished──> connected ──KeyUpdate / NewSessionTicket──> connected
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { TlsGroup } from "../types";
import { ALERT, TlsFailure } from "./alerts";
import { encodeClientHello, sendsServerName } from "./client-hello";
import { OFFERED_SUITES, PSK_HASH, suiteByCode, type CipherSuite } from "./cipher-suites";
import { generateKeyShare, groupByCode, GROUP_CODE, type KeyShare } from "./key-exchange";
import {
  deriveSecret,
  digest,
  earlySecret,
  externalBinderKey,
  finishedMac,
  handshakeSecret,
  hashLength,
  masterSecret,
  nextTrafficSecret,
} from "./key-schedule";
import {
  EXTENSION,
  HANDSHAKE,
  encodeHandshake,
  handshakeName,
  parseExtensions,
  rejectUnexpectedExtensions,
  type HandshakeMessage,
} from "./messages";
import { parseServerHello, type HelloRetryRequest, type ServerHello } from "./server-hello";
import { ByteReader } from "./wire";

export interface PskHandshakeConfig {
  identity: Uint8Array;
  /** The PSK bytes; they never leave this module except through the key schedule. */
  key: Uint8Array;
  keyExchange: "psk-dhe" | "psk-only";
  groups: readonly TlsGroup[];
  serverName?: string;
}

/** Randomness, injectable so tests can replay a handshake. */
export interface HandshakeDeps {
  randomBytes(length: number): Uint8Array;
  keyShare(group: TlsGroup): KeyShare;
}

export const defaultDeps: HandshakeDeps = {
  randomBytes: (length) => new Uint8Array(randomBytes(length)),
  keyShare: generateKeyShare,
};

export type HandshakeAction =
  /** Send a handshake message under the current write keys. */
  | { kind: "send"; message: Uint8Array }
  /** Send the middlebox-compatibility change_cipher_spec record (§D.4), always unprotected. */
  | { kind: "send_change_cipher_spec" }
  | { kind: "read_keys"; suite: CipherSuite; secret: Uint8Array }
  | { kind: "write_keys"; suite: CipherSuite; secret: Uint8Array }
  | { kind: "established"; suite: CipherSuite; keyExchange: "psk-dhe" | "psk-only"; group?: TlsGroup }
  /** The server asked for our KeyUpdate: owed once, before our next application data (§4.6.3). */
  | { kind: "key_update_owed" };

/** What the first (or retried) ClientHello committed to. */
interface Offer {
  random: Uint8Array;
  sessionId: Uint8Array;
  early: Uint8Array;
  share?: KeyShare;
  /** Messages so far, ending with the ClientHello. */
  transcript: Uint8Array[];
  /** Set after a HelloRetryRequest: the suite it chose. */
  retrySuite?: CipherSuite;
}

interface HandshakeKeys {
  suite: CipherSuite;
  transcript: Uint8Array[];
  handshakeSecret: Uint8Array;
  clientSecret: Uint8Array;
  serverSecret: Uint8Array;
  /** Whether the compatibility change_cipher_spec was already sent (after a HRR). */
  sentChangeCipherSpec: boolean;
  group?: TlsGroup;
}

export type HandshakeState =
  | { name: "wait_server_hello"; offer: Offer }
  | { name: "wait_encrypted_extensions"; keys: HandshakeKeys }
  | { name: "wait_finished"; keys: HandshakeKeys }
  | { name: "connected"; suite: CipherSuite; clientSecret: Uint8Array; serverSecret: Uint8Array };

export interface Step {
  state: HandshakeState;
  actions: HandshakeAction[];
}

export function startHandshake(config: PskHandshakeConfig, deps: HandshakeDeps = defaultDeps): Step {
  if (config.keyExchange === "psk-dhe" && config.groups.length === 0) {
    throw new Error("psk-dhe needs at least one key-share group");
  }
  const first = config.keyExchange === "psk-dhe" ? config.groups[0] : undefined;
  const offer: Offer = {
    random: deps.randomBytes(32),
    // A non-empty legacy_session_id: middlebox compatibility mode (§D.4).
    sessionId: deps.randomBytes(32),
    early: earlySecret(PSK_HASH, config.key),
    ...(first === undefined ? {} : { share: deps.keyShare(first) }),
    transcript: [],
  };
  const hello = clientHello(config, offer, []);
  offer.transcript = [hello];
  return { state: { name: "wait_server_hello", offer }, actions: [{ kind: "send", message: hello }] };
}

export function transition(
  state: HandshakeState,
  message: HandshakeMessage,
  config: PskHandshakeConfig,
  deps: HandshakeDeps = defaultDeps,
): Step {
  switch (state.name) {
    case "wait_server_hello": {
      expectType(message, HANDSHAKE.server_hello, "ServerHello");
      const hello = parseServerHello(message.body);
      return hello.kind === "hello_retry_request"
        ? onHelloRetryRequest(state.offer, hello, message, config, deps)
        : onServerHello(state.offer, hello, message, config);
    }
    case "wait_encrypted_extensions":
      expectType(message, HANDSHAKE.encrypted_extensions, "EncryptedExtensions");
      checkEncryptedExtensions(message.body, config);
      return {
        state: { name: "wait_finished", keys: { ...state.keys, transcript: [...state.keys.transcript, message.raw] } },
        actions: [],
      };
    case "wait_finished":
      if (message.type === HANDSHAKE.certificate || message.type === HANDSHAKE.certificate_request) {
        throw new TlsFailure(ALERT.unexpected_message, `server sent ${handshakeName(message.type)} in a PSK handshake`);
      }
      expectType(message, HANDSHAKE.finished, "Finished");
      return onServerFinished(state.keys, message, config);
    case "connected":
      return onPostHandshake(state, message);
  }
}

function clientHello(config: PskHandshakeConfig, offer: Offer, prefix: readonly Uint8Array[], cookie?: Uint8Array): Uint8Array {
  const binderKey = externalBinderKey(PSK_HASH, offer.early);
  return encodeClientHello(
    {
      random: offer.random,
      sessionId: offer.sessionId,
      suites: OFFERED_SUITES,
      keyExchange: config.keyExchange,
      groups: config.keyExchange === "psk-dhe" ? config.groups : [],
      keyShares: offer.share ? [offer.share] : [],
      ...(config.serverName === undefined ? {} : { serverName: config.serverName }),
      ...(cookie === undefined ? {} : { cookie }),
      identity: config.identity,
      binderLength: hashLength(PSK_HASH),
    },
    // §4.2.11.2: after a HRR the binder also covers message_hash(CH1) and the HRR.
    (truncated) => finishedMac(PSK_HASH, binderKey, digest(PSK_HASH, ...prefix, truncated)),
  );
}

/** §4.1.4: answer a HelloRetryRequest once, with a share for the group it selected. */
function onHelloRetryRequest(
  offer: Offer,
  retry: HelloRetryRequest,
  message: HandshakeMessage,
  config: PskHandshakeConfig,
  deps: HandshakeDeps,
): Step {
  if (offer.retrySuite) throw new TlsFailure(ALERT.unexpected_message, "server sent a second HelloRetryRequest");
  checkSessionEcho(offer, retry.sessionIdEcho);
  const suite = offeredSuite(retry.cipherSuite);
  let share = offer.share;
  if (retry.selectedGroup !== undefined) {
    const group = groupByCode(retry.selectedGroup);
    if (config.keyExchange !== "psk-dhe" || group === undefined || !config.groups.includes(group)) {
      throw new TlsFailure(ALERT.illegal_parameter, `HelloRetryRequest selected group ${retry.selectedGroup}, which we did not offer`);
    }
    if (group === offer.share?.group) {
      throw new TlsFailure(ALERT.illegal_parameter, `HelloRetryRequest asked again for ${group}, which we already sent`);
    }
    share = deps.keyShare(group);
  } else if (retry.cookie === undefined) {
    throw new TlsFailure(ALERT.illegal_parameter, "HelloRetryRequest would not change the ClientHello");
  }
  // §4.4.1: the transcript restarts with a synthetic message_hash of the first ClientHello.
  const firstHello = offer.transcript[0]!;
  const prefix = [encodeHandshake(HANDSHAKE.message_hash, digest(suite.hash, firstHello)), message.raw];
  const retried: Offer = { ...offer, ...(share ? { share } : {}), retrySuite: suite };
  const hello = clientHello(config, retried, prefix, retry.cookie);
  retried.transcript = [...prefix, hello];
  return {
    state: { name: "wait_server_hello", offer: retried },
    actions: [{ kind: "send_change_cipher_spec" }, { kind: "send", message: hello }],
  };
}

function onServerHello(offer: Offer, hello: ServerHello, message: HandshakeMessage, config: PskHandshakeConfig): Step {
  checkSessionEcho(offer, hello.sessionIdEcho);
  const suite = offeredSuite(hello.cipherSuite);
  if (offer.retrySuite && offer.retrySuite !== suite) {
    throw new TlsFailure(ALERT.illegal_parameter, "ServerHello cipher suite differs from the HelloRetryRequest's");
  }
  if (hello.selectedIdentity === undefined) {
    throw new TlsFailure(
      ALERT.handshake_failure,
      "server did not accept the PSK and began a certificate-based handshake (check the PSK identity, or configure certificate TLS)",
    );
  }
  if (hello.selectedIdentity !== 0) {
    throw new TlsFailure(ALERT.illegal_parameter, `server selected PSK identity ${hello.selectedIdentity}, but we offered one`);
  }
  let sharedSecret: Uint8Array | undefined;
  if (config.keyExchange === "psk-dhe") {
    if (!hello.keyShare || !offer.share) {
      throw new TlsFailure(ALERT.illegal_parameter, "server chose psk_ke although we offered only psk_dhe_ke");
    }
    if (hello.keyShare.group !== GROUP_CODE[offer.share.group]) {
      throw new TlsFailure(ALERT.illegal_parameter, `server key share is for group ${hello.keyShare.group}, not ${offer.share.group}`);
    }
    sharedSecret = offer.share.agree(hello.keyShare.publicKey);
  } else if (hello.keyShare) {
    throw new TlsFailure(ALERT.unsupported_extension, "server sent a key share although we offered psk_ke only");
  }
  const secret = handshakeSecret(suite.hash, offer.early, sharedSecret);
  sharedSecret?.fill(0);
  const transcript = [...offer.transcript, message.raw];
  const hash = digest(suite.hash, ...transcript);
  const keys: HandshakeKeys = {
    suite,
    transcript,
    handshakeSecret: secret,
    clientSecret: deriveSecret(suite.hash, secret, "c hs traffic", hash),
    serverSecret: deriveSecret(suite.hash, secret, "s hs traffic", hash),
    sentChangeCipherSpec: offer.retrySuite !== undefined,
    ...(offer.share && config.keyExchange === "psk-dhe" ? { group: offer.share.group } : {}),
  };
  return {
    state: { name: "wait_encrypted_extensions", keys },
    actions: [
      { kind: "read_keys", suite, secret: keys.serverSecret },
      { kind: "write_keys", suite, secret: keys.clientSecret },
    ],
  };
}

/** §4.3.1: only extensions we could have asked for may appear; none of the ServerHello ones. */
function checkEncryptedExtensions(body: Uint8Array, config: PskHandshakeConfig): void {
  const reader = new ByteReader(body, "EncryptedExtensions");
  const extensions = parseExtensions(reader.vector(2), "EncryptedExtensions");
  reader.end();
  const allowed: number[] = [EXTENSION.supported_groups];
  if (sendsServerName(config.serverName)) allowed.push(EXTENSION.server_name);
  rejectUnexpectedExtensions(extensions, allowed, "EncryptedExtensions");
  // RFC 6066 §3: the server's server_name extension is empty.
  if ((extensions.get(EXTENSION.server_name)?.length ?? 0) > 0) {
    throw new TlsFailure(ALERT.decode_error, "EncryptedExtensions carries a non-empty server_name");
  }
}

function onServerFinished(keys: HandshakeKeys, message: HandshakeMessage, config: PskHandshakeConfig): Step {
  const { suite } = keys;
  const expected = finishedMac(suite.hash, keys.serverSecret, digest(suite.hash, ...keys.transcript));
  if (message.body.length !== expected.length) throw new TlsFailure(ALERT.decode_error, "server Finished has the wrong length");
  if (!timingSafeEqual(message.body, expected)) {
    throw new TlsFailure(ALERT.decrypt_error, "server Finished does not verify");
  }
  const transcript = [...keys.transcript, message.raw];
  const hash = digest(suite.hash, ...transcript);
  const master = masterSecret(suite.hash, keys.handshakeSecret);
  const clientApp = deriveSecret(suite.hash, master, "c ap traffic", hash);
  const serverApp = deriveSecret(suite.hash, master, "s ap traffic", hash);
  master.fill(0);
  const clientFinished = encodeHandshake(HANDSHAKE.finished, finishedMac(suite.hash, keys.clientSecret, hash));
  const actions: HandshakeAction[] = [{ kind: "read_keys", suite, secret: serverApp }];
  if (!keys.sentChangeCipherSpec) actions.push({ kind: "send_change_cipher_spec" });
  actions.push(
    { kind: "send", message: clientFinished },
    { kind: "write_keys", suite, secret: clientApp },
    { kind: "established", suite, keyExchange: config.keyExchange, ...(keys.group ? { group: keys.group } : {}) },
  );
  return { state: { name: "connected", suite, clientSecret: clientApp, serverSecret: serverApp }, actions };
}

type Connected = Extract<HandshakeState, { name: "connected" }>;

/**
 * §4.6: NewSessionTicket is ignored (we never resume); KeyUpdate ratchets the read keys. An
 * update_requested is not answered here but owed: the session sends one KeyUpdate before its next
 * application data, however many requests arrived meanwhile (§4.6.3).
 */
function onPostHandshake(state: Connected, message: HandshakeMessage): Step {
  if (message.type === HANDSHAKE.new_session_ticket) return { state, actions: [] };
  expectType(message, HANDSHAKE.key_update, "KeyUpdate or NewSessionTicket");
  const reader = new ByteReader(message.body, "KeyUpdate");
  const requested = reader.u8();
  reader.end();
  if (requested > 1) throw new TlsFailure(ALERT.illegal_parameter, `KeyUpdate has request_update ${requested}`);
  const { suite } = state;
  const serverSecret = nextTrafficSecret(suite.hash, state.serverSecret);
  const actions: HandshakeAction[] = [{ kind: "read_keys", suite, secret: serverSecret }];
  if (requested === 1) actions.push({ kind: "key_update_owed" });
  return { state: { ...state, serverSecret }, actions };
}

/**
 * §4.6.3: our KeyUpdate, then our write keys ratchet. `requestUpdate` asks the server to update
 * its own keys too (update_requested).
 */
export function updateWriteKeys(state: HandshakeState, requestUpdate: boolean): Step {
  if (state.name !== "connected") throw new Error(`KeyUpdate in state ${state.name}`);
  const { suite } = state;
  const clientSecret = nextTrafficSecret(suite.hash, state.clientSecret);
  return {
    state: { ...state, clientSecret },
    actions: [
      { kind: "send", message: encodeHandshake(HANDSHAKE.key_update, Uint8Array.of(requestUpdate ? 1 : 0)) },
      { kind: "write_keys", suite, secret: clientSecret },
    ],
  };
}

/** The secret bytes a state holds (the PSK itself is the caller's). */
function secretsOf(state: HandshakeState | undefined): Uint8Array[] {
  switch (state?.name) {
    case undefined:
      return [];
    case "wait_server_hello":
      return [state.offer.early];
    case "wait_encrypted_extensions":
    case "wait_finished":
      return [state.keys.handshakeSecret, state.keys.clientSecret, state.keys.serverSecret];
    case "connected":
      return [state.clientSecret, state.serverSecret];
  }
}

function shareOf(state: HandshakeState | undefined): KeyShare | undefined {
  return state?.name === "wait_server_hello" ? state.offer.share : undefined;
}

/**
 * Wipes the secrets `before` held that `after` no longer does, and disposes of a key share it
 * dropped: the early secret and ECDH private key once the ServerHello is processed, the handshake
 * secrets once the server Finished is, a traffic secret once a KeyUpdate replaced it; everything
 * when `after` is undefined (the connection ended). Call it once the step's actions are performed.
 */
export function discardReplacedSecrets(before: HandshakeState | undefined, after: HandshakeState | undefined): void {
  const kept = new Set(secretsOf(after));
  for (const secret of secretsOf(before)) if (!kept.has(secret)) secret.fill(0);
  const share = shareOf(before);
  if (share && share !== shareOf(after)) share.dispose();
}

function expectType(message: HandshakeMessage, type: number, expected: string): void {
  if (message.type !== type) {
    throw new TlsFailure(ALERT.unexpected_message, `expected ${expected}, server sent ${handshakeName(message.type)}`);
  }
}

function checkSessionEcho(offer: Offer, echo: Uint8Array): void {
  if (!Buffer.from(echo).equals(offer.sessionId)) {
    throw new TlsFailure(ALERT.illegal_parameter, "server did not echo our legacy_session_id");
  }
}

/** The suite must be one we offered and must use the PSK's hash (§4.2.11). */
function offeredSuite(code: number): CipherSuite {
  const suite = suiteByCode(code);
  if (!suite) throw new TlsFailure(ALERT.illegal_parameter, `server selected cipher suite 0x${code.toString(16)}, which we did not offer`);
  if (suite.hash !== PSK_HASH) {
    throw new TlsFailure(ALERT.illegal_parameter, `server selected ${suite.name}, whose hash does not match the SHA-256 PSK`);
  }
  return suite;
}
