/**
 * A fake UpstreamEngine for API tests: records every StartRequest and answers through a
 * replaceable `answer` function (a reply body, an UpstreamError, or a wait on the abort signal).
 */
import { Histogram } from "../../src/common/histogram";
import { newLatencyByType } from "../../src/common/request-metrics";
import { newHandshakeFailureCounts } from "../../src/upstream/counters";
import {
  AcctStatus,
  AuthenStatus,
  AuthorStatus,
  encodeAcctReply,
  encodeAuthenReply,
  encodeAuthorReply,
  PacketType,
} from "../../src/protocol";
import type { EngineStatus, StartRequest, UpstreamEngine, UpstreamSession } from "../../src/upstream/types";

export type Answer = (request: StartRequest) => Promise<Uint8Array> | Uint8Array;

/** A PASS / SUCCESS reply of the request's type. */
export function passReply(request: StartRequest): Uint8Array {
  switch (request.type) {
    case PacketType.Authentication:
      return encodeAuthenReply({ status: AuthenStatus.Pass, flags: 0, serverMsg: "welcome", data: new Uint8Array([1, 2]) });
    case PacketType.Authorization:
      return encodeAuthorReply({ status: AuthorStatus.PassAdd, args: [{ name: "priv-lvl", value: "15", mandatory: true }], serverMsg: "ok", data: "" });
    default:
      return encodeAcctReply({ status: AcctStatus.Success, serverMsg: "recorded", data: "" });
  }
}

/** Waits until the call is cancelled, then rejects like the real engine. */
export function hang(request: StartRequest): Promise<Uint8Array> {
  return new Promise((_, reject) => {
    if (request.cancellation?.cancelled) reject(new Error("aborted"));
    request.cancellation?.onCancel(() => reject(new Error("aborted")));
  });
}

export const SAMPLE_STATUS: EngineStatus = {
  state: "FailedOver",
  activeServer: 1,
  servers: [
    {
      name: "primary",
      address: "127.0.0.1:4901",
      connected: false,
      singleConnect: "unknown",
      sessionsInFlight: 0,
      replyLatency: newLatencyByType(),
      connectLatency: new Histogram(),
      security: "tcp",
      tlsHandshakeFailures: newHandshakeFailureCounts(),
      counters: { connectionOpens: 1, connectionCloses: 1, connectionAborts: 0, connectionFailures: 3, connectionTimeouts: 1, messagesSent: 5, messagesReceived: 4, errorsReceived: 0, sessions: 5 },
    },
    {
      name: "backup",
      address: "127.0.0.1:4902",
      connected: true,
      singleConnect: "supported",
      sessionsInFlight: 2,
      replyLatency: newLatencyByType(),
      connectLatency: new Histogram(),
      security: "tcp",
      tlsHandshakeFailures: newHandshakeFailureCounts(),
      counters: { connectionOpens: 1, connectionCloses: 0, connectionAborts: 0, connectionFailures: 0, connectionTimeouts: 0, messagesSent: 9, messagesReceived: 9, errorsReceived: 1, sessions: 9 },
    },
  ],
};

export class FakeEngine implements UpstreamEngine {
  /** Requests with a snapshot of their body as it arrived (handlers may wipe theirs afterwards). */
  readonly requests: StartRequest[] = [];
  /** The body buffers exactly as handed over. */
  readonly handedOver: Uint8Array[] = [];
  answer: Answer = passReply;
  /** Answers an authentication CONTINUE body (ASCII login); unset: a CONTINUE fails the test. */
  answerContinue: ((body: Uint8Array) => Uint8Array) | undefined;
  /** CONTINUE bodies with a snapshot of each as it arrived. */
  readonly continued: Uint8Array[] = [];
  ended = 0;

  /** Requests whose caller cancelled them. */
  get aborted(): number {
    return this.requests.filter((request) => request.cancellation?.cancelled).length;
  }

  onStateChange(): () => void {
    return () => {};
  }

  startOn(_server: string, request: StartRequest): Promise<UpstreamSession> {
    return this.start(request);
  }

  async start(request: StartRequest): Promise<UpstreamSession> {
    this.handedOver.push(request.body);
    this.requests.push({ ...request, body: request.body.slice() });
    const body = await this.answer(request);
    return {
      server: "fake-server",
      sharedSecret: undefined,
      overTls: false,
      reply: { version: request.version, type: request.type, seqNo: 2, flags: 0, sessionId: 1, body },
      continue: async (continueBody) => {
        if (this.answerContinue === undefined) throw new Error("not used");
        this.continued.push(continueBody.slice());
        return { version: request.version, type: request.type, seqNo: 4, flags: 0, sessionId: 1, body: this.answerContinue(continueBody) };
      },
      end: () => {
        this.ended++;
      },
    };
  }

  status(): EngineStatus {
    return SAMPLE_STATUS;
  }

  async warmUp(): Promise<void> {}
  reconfigure(): void {}
  async close(): Promise<void> {}
}
