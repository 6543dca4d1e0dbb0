/**
 * Which execs are TACACS+ commands, and whose: the agent's registry of login sessions (filled by
 * `tacon pam` at open_session) answers for an audit session (`ses`) and login uid (`auid`); a
 * found session is cached for CACHE_TTL_MS (a session id is never reused before a reboot).
 * Unknown sessions are asked again on every exec: a login registers just before its shell
 * starts, so a negative answer must not stick. The exec's time goes with the question: execs
 * from before the registration (the login's own PAM helpers) are not the session's. Without a registration, the fallback policy
 * (a minimum login uid, or membership of a group) accounts the exec under the local user name.
 */
import { AUDIT_CLOCK_SLACK_MS } from "../api/audit-sessions";
import type { SessionInfo } from "./accounting";
import { UNSET, type ExecEvent } from "./exec-event";

export const CACHE_TTL_MS = 30_000;
export const MAX_CACHED_SESSIONS = 4096;

export interface FallbackPolicy {
  /** Login uids from this one up are accounted without a registration. */
  minUid: number | undefined;
  /** Members of this group are accounted without a registration. */
  group: string | undefined;
}

/** The local account database, as the fallback needs it. */
export interface Accounts {
  userName(uid: number): string | undefined;
  /** True when `user` belongs to `group` (as a listed member or by its primary group). */
  inGroup(user: string, group: string): boolean;
}

export type Resolution = { session: SessionInfo } | { skip: string };

export class SessionResolver {
  readonly #cache = new Map<string, { session: SessionInfo; until: number }>();

  constructor(
    private readonly lookup: (ses: number, auid: number, eventTimeMs: number) => Promise<SessionInfo | undefined>,
    private readonly fallback: FallbackPolicy,
    private readonly accounts: Accounts,
    private readonly now: () => number,
  ) {}

  async resolve(event: ExecEvent): Promise<Resolution> {
    if (event.auid === UNSET || event.ses === UNSET) return { skip: "not a login session (auid or ses unset)" };
    const key = `${event.ses}:${event.auid}`;
    const cached = this.#cache.get(key);
    const now = this.now();
    // Events are sent out of order (several in flight): one from before the registration asks the agent.
    if (cached !== undefined && cached.until > now && event.timeMs + AUDIT_CLOCK_SLACK_MS >= cached.session.registeredAtMs) return { session: cached.session };
    const session = await this.lookup(event.ses, event.auid, event.timeMs);
    if (session !== undefined) {
      this.#remember(key, session, now);
      return { session };
    }
    return this.#fallback(event);
  }

  #remember(key: string, session: SessionInfo, now: number): void {
    this.#cache.delete(key);
    if (this.#cache.size >= MAX_CACHED_SESSIONS) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(key, { session, until: now + CACHE_TTL_MS });
  }

  #fallback(event: ExecEvent): Resolution {
    const { minUid, group } = this.fallback;
    if (minUid === undefined && group === undefined) return { skip: "not a registered TACACS+ session" };
    const user = event.auidName ?? this.accounts.userName(event.auid);
    if (user === undefined) return { skip: `login uid ${event.auid} has no user name` };
    const byUid = minUid !== undefined && event.auid >= minUid;
    const byGroup = group !== undefined && this.accounts.inGroup(user, group);
    if (!byUid && !byGroup) return { skip: "not a registered TACACS+ session, and outside the fallback" };
    return {
      session: { user, port: event.tty ?? "", remoteAddress: "", privilegeLevel: 1, taskBase: `audit${Math.floor(event.timeMs / 1000)}`, registeredAtMs: 0 },
    };
  }
}

/** /etc/passwd and /etc/group text → the Accounts the fallback needs (pure). */
export function parseAccounts(passwd: string, group: string): Accounts {
  const names = new Map<number, string>();
  const primaryGid = new Map<string, number>();
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (!name || uid === undefined || !/^\d+$/.test(uid)) continue;
    if (!names.has(Number(uid))) names.set(Number(uid), name);
    if (gid !== undefined && /^\d+$/.test(gid)) primaryGid.set(name, Number(gid));
  }
  const groups = new Map<string, { gid: number; members: Set<string> }>();
  for (const line of group.split("\n")) {
    const [name, , gid, members] = line.split(":");
    if (!name || gid === undefined || !/^\d+$/.test(gid)) continue;
    groups.set(name, { gid: Number(gid), members: new Set((members ?? "").split(",").filter(Boolean)) });
  }
  return {
    userName: (uid) => names.get(uid),
    inGroup: (user, name) => {
      const entry = groups.get(name);
      return entry !== undefined && (entry.members.has(user) || primaryGid.get(user) === entry.gid);
    },
  };
}
