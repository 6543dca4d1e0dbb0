/**
 * Proxy test support, never imported by production code: a scripted UpstreamEngine that records
 * every request and answers with whatever the test queued (a reply body, an error, or a promise
 * the test resolves later), and a logger that records its lines.
 */
import type { Logger } from "../common/log";
import type { Secret } from "../common/secret";
import type { EngineStatus, ReplyPacket, StartRequest, UpstreamEngine, UpstreamSession } from "../upstream/types";
import { UpstreamError } from "../upstream/types";

export interface ScriptedReply {
  body: Uint8Array;
  flags?: number;
  version?: number;
}
export type Answer = ScriptedReply | Error | Promise<ScriptedReply>;

export const UPSTREAM_SESSION_ID = 0x0badf00d;

export class ScriptedEngine implements UpstreamEngine {
  readonly starts: StartRequest[] = [];
  readonly continues: Uint8Array[] = [];
  /** The body buffers as handed over, not copies: `starts` and `continues` snapshot them on arrival. */
  readonly handedOver: Uint8Array[] = [];
  readonly answers: Answer[] = [];
  ended = 0;
  activeServer = 0;
  sharedSecret: Secret | undefined;
  overTls = false;

  answer(...answers: Answer[]): this {
    this.answers.push(...answers);
    return this;
  }

  async #reply(type: number, seqNo: number): Promise<ReplyPacket> {
    const next = this.answers.shift();
    if (next === undefined) throw new UpstreamError("no answer scripted", "fake", true, "unavailable");
    if (next instanceof Error) throw next;
    const { body, flags = 0, version = 0xc0 } = await next;
    return { version, type, seqNo, flags, sessionId: UPSTREAM_SESSION_ID, body };
  }

  onStateChange(): () => void {
    return () => {};
  }

  startOn(_server: string, request: StartRequest): Promise<UpstreamSession> {
    return this.start(request);
  }

  async start(request: StartRequest): Promise<UpstreamSession> {
    this.handedOver.push(request.body);
    this.starts.push({ ...request, body: request.body.slice() });
    const first = await this.#reply(request.type, 2);
    let seqNo = 2;
    const engine = this;
    return {
      server: "fake",
      sharedSecret: this.sharedSecret,
      overTls: this.overTls,
      reply: first,
      continue(body) {
        engine.handedOver.push(body);
        engine.continues.push(body.slice());
        seqNo += 2;
        return engine.#reply(request.type, seqNo);
      },
      end() {
        engine.ended += 1;
      },
    };
  }

  status(): EngineStatus {
    return { state: "PreferredActive", activeServer: this.activeServer, servers: [] };
  }

  async warmUp(): Promise<void> {}
  reconfigure(): void {}
  async close(): Promise<void> {}
}

export interface LogLine {
  level: "error" | "warn" | "info" | "debug" | "trace";
  text: string;
}

/** A Logger that keeps every line for assertions. */
export function recordingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine["level"]) => (message: unknown) => void lines.push({ level, text: String(message) });
  // level 5 (consola's trace): code that checks tracing() records its trace lines too.
  const logger = { level: 5, error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug"), trace: at("trace") };
  return { logger: logger as unknown as Logger, lines };
}
