/**
 * The audit sessions of TACACS+ logins: `tacon pam` registers each login's audit session
 * (/proc/self/sessionid, the kernel's `ses`) with its TACACS+ user, tty, remote address,
 * privilege level and task base; the audit plugin looks a `ses` up for every exec it accounts.
 *
 * In memory and bounded: at most MAX_AUDIT_SESSIONS entries, each forgotten after
 * AUDIT_SESSION_IDLE_MS without a lookup (a login whose close_session never came), the least
 * recently used first. Counters are plain fields for Status and metrics.
 */
import type { Clock } from "../upstream/clock";

/** Registered sessions held at once; a registration beyond it is refused (after expiring idle ones). */
export const MAX_AUDIT_SESSIONS = 65_536;
/** A session nobody looked up for this long is forgotten (its logout was missed). */
export const AUDIT_SESSION_IDLE_MS = 24 * 3600_000;

/**
 * Audit records are stamped with the kernel's coarse clock (ktime_get_coarse_real_ts64 at
 * syscall entry), up to one tick (10 ms at HZ=100) behind the real time: an exec that follows a
 * registration may carry a time just before it.
 */
export const AUDIT_CLOCK_SLACK_MS = 10;

export interface AuditSession {
  /** The kernel's audit session id (`ses`). */
  sessionId: number;
  /** The login uid (`auid`) the kernel gave the session; lookups must match it. */
  loginUid: number;
  user: string;
  port: string;
  remoteAddress: string;
  privilegeLevel: number;
  /** task_id prefix: each command's task_id is `<task base>-<audit serial>`. */
  taskBase: string;
  /** When the agent registered it (ms, Date.now() scale, as audit record times). */
  registeredAtMs: number;
}

export interface AuditSessionCounters {
  registered: number;
  unregistered: number;
  expired: number;
  /** Registrations refused because the registry was full. */
  rejectedFull: number;
  /** Registrations refused because another login (task base) holds the session (e.g. sudo inside ssh). */
  alreadyRegistered: number;
  lookups: number;
  lookupsFound: number;
  /** Calls refused because the caller was not root (or not on the Unix socket). */
  denied: number;
}

interface Entry {
  session: AuditSession;
  lastUsed: number;
}

export class AuditSessionRegistry {
  readonly counters: AuditSessionCounters = { registered: 0, unregistered: 0, expired: 0, rejectedFull: 0, alreadyRegistered: 0, lookups: 0, lookupsFound: 0, denied: 0 };
  /** Insertion order is least recently used first (a lookup moves its entry to the end). */
  readonly #entries = new Map<number, Entry>();

  constructor(
    private readonly clock: Pick<Clock, "now">,
    readonly limits = { maxSessions: MAX_AUDIT_SESSIONS, idleMs: AUDIT_SESSION_IDLE_MS },
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Registers a session, stamped with the time. The first login of an audit session owns it:
   * a registration with another task base (sudo or su inside an ssh login share its `ses`) is
   * refused ("exists"); the same task base registers again. "full": the bound was reached.
   */
  register(registration: Omit<AuditSession, "registeredAtMs">): "registered" | "exists" | "full" {
    const now = this.clock.now();
    this.#expire(now);
    const known = this.#entries.get(registration.sessionId);
    if (known !== undefined && known.session.taskBase !== registration.taskBase) {
      this.counters.alreadyRegistered++;
      return "exists";
    }
    if (known === undefined && this.#entries.size >= this.limits.maxSessions) {
      this.counters.rejectedFull++;
      return "full";
    }
    this.#entries.delete(registration.sessionId);
    this.#entries.set(registration.sessionId, { session: { ...registration, registeredAtMs: now }, lastUsed: now });
    this.counters.registered++;
    return "registered";
  }

  /** Forgets a session; with `taskBase`, only the registration of that login. */
  unregister(sessionId: number, taskBase = ""): boolean {
    const entry = this.#entries.get(sessionId);
    if (entry === undefined || (taskBase !== "" && entry.session.taskBase !== taskBase)) return false;
    this.#entries.delete(sessionId);
    this.counters.unregistered++;
    return true;
  }

  /**
   * The session `sessionId` if it is registered for `loginUid` and, when `eventTimeMs` is given,
   * was registered by then (an exec before the registration is not one of its commands).
   */
  lookup(sessionId: number, loginUid: number, eventTimeMs = 0): AuditSession | undefined {
    const now = this.clock.now();
    this.#expire(now);
    this.counters.lookups++;
    const entry = this.#entries.get(sessionId);
    if (entry === undefined || entry.session.loginUid !== loginUid) return undefined;
    if (eventTimeMs !== 0 && eventTimeMs + AUDIT_CLOCK_SLACK_MS < entry.session.registeredAtMs) return undefined;
    this.#entries.delete(sessionId);
    entry.lastUsed = now;
    this.#entries.set(sessionId, entry);
    this.counters.lookupsFound++;
    return entry.session;
  }

  #expire(now: number): void {
    for (const [sessionId, entry] of this.#entries) {
      if (now - entry.lastUsed < this.limits.idleMs) return;
      this.#entries.delete(sessionId);
      this.counters.expired++;
    }
  }
}
