/**
 * One held exec → a decision: the allowlist, then the session's cache, then the agent's
 * Authorization RPC within the decision timeout. When the agent or every upstream server is
 * unreachable the failure policy decides: `closed` denies (default), `open` allows. Such
 * answers are not cached, so the server decides again as soon as it is back.
 */
import type { ExecTarget } from "./exec-target";
import { commandKey, type Decision, type DecisionCache } from "./decisions";
import { authorizationRequest, type SessionIdentity } from "./requests";

export type FailurePolicy = "closed" | "open";

/** The agent's API as the session uses it (DirectApiClient.call: raw HTTP/2, no node:http2 to load or run). */
export interface AgentApi {
  call(method: "Authorization" | "Accounting", request: object, timeoutMs: number): Promise<Record<string, unknown>>;
}

export interface AuthorizerOptions {
  allowlist: ReadonlySet<string>;
  failurePolicy: FailurePolicy;
  decisionTimeoutMs: number;
  /** Told of each allowed answer cached, before it is acted on (allowed-feed.ts). */
  cachedAllowed?: (key: string, expiresAt: number) => void;
}

/** A decision and where it came from (accounting skips allowlisted plumbing). */
export interface Outcome extends Decision {
  source: "allowlist" | "cache" | "server" | "failure-policy";
}

export interface AuthorizerCounters {
  allowlisted: number;
  asked: number;
  permitted: number;
  denied: number;
  unavailable: number;
}

const PASS = new Set(["AUTHORIZATION_STATUS_PASS_ADD", "AUTHORIZATION_STATUS_PASS_REPL"]);

export class Authorizer {
  readonly counters: AuthorizerCounters = { allowlisted: 0, asked: 0, permitted: 0, denied: 0, unavailable: 0 };

  constructor(
    private readonly api: AgentApi,
    private readonly session: SessionIdentity,
    private readonly cache: DecisionCache,
    private readonly options: AuthorizerOptions,
  ) {}

  async decide(target: ExecTarget): Promise<Outcome> {
    if (this.options.allowlist.has(target.path)) {
      this.counters.allowlisted++;
      return { allowed: true, message: "", source: "allowlist" };
    }
    const key = commandKey(target.path, target.args, target.argc);
    const cached = this.cache.get(key);
    if (cached !== undefined) return { ...cached, source: "cache" };
    this.counters.asked++;
    const answer = await this.#ask(target);
    if (answer.kind === "unavailable") {
      this.counters.unavailable++;
      const allowed = this.options.failurePolicy === "open";
      const message = `TACACS+ authorization unavailable (${answer.message}); failure policy ${this.options.failurePolicy}`;
      return { allowed, message, source: "failure-policy" };
    }
    if (answer.decision.allowed) this.counters.permitted++;
    else this.counters.denied++;
    const expiresAt = this.cache.set(key, answer.decision);
    if (expiresAt !== undefined && answer.decision.allowed) this.options.cachedAllowed?.(key, expiresAt);
    return { ...answer.decision, source: "server" };
  }

  async #ask(target: ExecTarget): Promise<{ kind: "answer"; decision: Decision } | { kind: "unavailable"; message: string }> {
    let reply: Record<string, unknown>;
    try {
      reply = await this.api.call("Authorization", authorizationRequest(this.session, target), this.options.decisionTimeoutMs);
    } catch (error) {
      return { kind: "unavailable", message: (error as Error).message };
    }
    if (reply.result === "error") return { kind: "unavailable", message: (reply.error as { message: string }).message };
    const response = reply.response as { status: string; serverMessage: string };
    if (PASS.has(response.status)) return { kind: "answer", decision: { allowed: true, message: "" } };
    const why = response.serverMessage || (response.status === "AUTHORIZATION_STATUS_FAIL" ? "denied by the TACACS+ server" : `the TACACS+ server answered ${response.status}`);
    return { kind: "answer", decision: { allowed: false, message: why } };
  }
}
