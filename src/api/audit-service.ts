/**
 * The audit-session RPCs (RegisterAuditSession, UnregisterAuditSession, LookupAuditSession,
 * ReportAuditPlugin) and the audit part of Status. Every call must come from root over the Unix
 * socket: the kernel's SO_PEERCRED says who the caller is, so a local user can neither register
 * someone else's session (and have their commands accounted under another name) nor read who is
 * logged in from where.
 */
import type { Logger } from "../common/log";
import type { Clock } from "../upstream/clock";
import { AuditSessionRegistry, type AuditSession } from "./audit-sessions";
import { AGENT_SERVICE, methodsOf, toNumber, type MethodDescriptor } from "./proto";
import type { CallContext, Route } from "./server";
import { GrpcError, Status } from "./status";
import { checkName, checkPrivLvl, invalid } from "./validation";

/** The kernel's "unset" for auid and ses ((uid_t)-1, (unsigned)-1). */
export const AUDIT_UNSET = 0xffff_ffff;
/** Room left in a 255-byte "task_id=<base>-<serial>" argument for the serial. */
const MAX_TASK_BASE_BYTES = 200;

type Uint64 = number | { toNumber(): number };

/** The decoded AuditSession message has the registry's shape (unchecked until auditSession()). */
type SessionMessage = AuditSession;
type Registration = Omit<AuditSession, "registeredAtMs">;

type PluginCounters = Record<string, Uint64>;

/** Refuses callers that are not root on the Unix socket (PERMISSION_DENIED), and counts them. */
function requireRoot(context: CallContext, registry: AuditSessionRegistry, what: string): void {
  const peer = context.peer;
  if (peer?.uid === 0) return;
  registry.counters.denied++;
  throw new GrpcError(
    Status.PERMISSION_DENIED,
    peer === undefined ? `${what} is only allowed over the agent's Unix socket` : `${what} needs root (the caller runs as uid ${peer.uid})`,
  );
}

function checkSessionId(field: string, value: number): number {
  if (value === 0 || value === AUDIT_UNSET) throw invalid(field, "must be a login's audit session id (/proc/self/sessionid), not 0 or unset");
  return value;
}

/** A registration as the registry holds it; an empty task base becomes "ses<id>.<registration time>". */
export function auditSession(message: SessionMessage | null | undefined, now: number): Registration {
  if (!message) throw invalid("session", "is required");
  if (message.loginUid === AUDIT_UNSET) throw invalid("session.login_uid", "must be set (the session's /proc/self/loginuid)");
  checkName("session.user", message.user, true);
  checkName("session.port", message.port);
  checkName("session.remote_address", message.remoteAddress);
  checkName("session.task_base", message.taskBase);
  if (Buffer.byteLength(message.taskBase) > MAX_TASK_BASE_BYTES) throw invalid("session.task_base", `is longer than ${MAX_TASK_BASE_BYTES} bytes`);
  const sessionId = checkSessionId("session.session_id", message.sessionId);
  return {
    sessionId,
    loginUid: message.loginUid,
    user: message.user,
    port: message.port,
    remoteAddress: message.remoteAddress,
    privilegeLevel: checkPrivLvl("session.privilege_level", message.privilegeLevel),
    taskBase: message.taskBase || `ses${sessionId}.${Math.floor(now / 1000)}`,
  };
}

export class AuditService {
  readonly registry: AuditSessionRegistry;
  #report: { at: number; counters: PluginCounters } | undefined;

  constructor(
    private readonly clock: Pick<Clock, "now">,
    private readonly log: Logger,
    registry?: AuditSessionRegistry,
  ) {
    this.registry = registry ?? new AuditSessionRegistry(clock);
  }

  /** The audit plugin's counters as it last reported them (undefined before its first report). */
  pluginCounters(): Readonly<Record<string, number>> | undefined {
    return this.#report?.counters as Record<string, number> | undefined;
  }

  /** The `audit` field of StatusReply. */
  status(): object {
    const { counters } = this.registry;
    const report = this.#report;
    return {
      sessions: this.registry.size,
      ...counters,
      pluginReported: report !== undefined,
      pluginReportAgeSeconds: report === undefined ? 0 : Math.floor((this.clock.now() - report.at) / 1000),
      ...(report === undefined ? {} : { plugin: report.counters }),
    };
  }

  routes(): Route[] {
    const methods = new Map(methodsOf(AGENT_SERVICE).map((method) => [method.path.slice(AGENT_SERVICE.length + 2), method]));
    const method = (name: string): MethodDescriptor => methods.get(name)!;
    const registry = this.registry;
    return [
      {
        method: method("RegisterAuditSession"),
        kind: "unary",
        handle: async (request, context) => {
          requireRoot(context, registry, "registering an audit session");
          const session = auditSession((request as { session?: SessionMessage }).session, this.clock.now());
          const outcome = registry.register(session);
          if (outcome === "exists") {
            throw new GrpcError(Status.ALREADY_EXISTS, `audit session ${session.sessionId} is registered for another login (task base); the first login of an audit session owns it`);
          }
          if (outcome === "full") {
            const limit = registry.limits.maxSessions;
            this.log.warn(`api: audit session ${session.sessionId} not registered: ${limit} sessions are registered, the limit (MAX_AUDIT_SESSIONS)`);
            throw new GrpcError(Status.RESOURCE_EXHAUSTED, `too many audit sessions registered (limit ${limit})`);
          }
          this.log.debug(`api: audit session ${session.sessionId} registered for user ${JSON.stringify(session.user)}`);
          return {};
        },
      },
      {
        method: method("UnregisterAuditSession"),
        kind: "unary",
        handle: async (request, context) => {
          requireRoot(context, registry, "unregistering an audit session");
          const { sessionId, taskBase } = request as { sessionId: number; taskBase: string };
          return { found: registry.unregister(checkSessionId("session_id", sessionId), taskBase) };
        },
      },
      {
        method: method("LookupAuditSession"),
        kind: "unary",
        handle: async (request, context) => {
          requireRoot(context, registry, "looking up an audit session");
          const { sessionId, loginUid, eventTimeMs } = request as { sessionId: number; loginUid: number; eventTimeMs: Uint64 };
          const session = registry.lookup(sessionId, loginUid, toNumber(eventTimeMs));
          return session === undefined ? { found: false } : { found: true, session };
        },
      },
      {
        method: method("ReportAuditPlugin"),
        kind: "unary",
        handle: async (request, context) => {
          requireRoot(context, registry, "reporting audit plugin counters");
          const counters: PluginCounters = {};
          for (const [name, value] of Object.entries(request as PluginCounters)) counters[name] = toNumber(value);
          this.#report = { at: this.clock.now(), counters };
          return {};
        },
      },
    ];
  }
}
