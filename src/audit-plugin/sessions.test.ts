import { describe, expect, test } from "bun:test";
import type { SessionInfo } from "./accounting";
import type { ExecEvent } from "./exec-event";
import { CACHE_TTL_MS, parseAccounts, SessionResolver, type FallbackPolicy } from "./sessions";

const PASSWD = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/sh\nops:x:500:77::/:/bin/sh\nbroken line\n";
const GROUP = "root:x:0:\nnetops:x:77:bob\nalice:x:1000:\n";
const ACCOUNTS = parseAccounts(PASSWD, GROUP);
const REGISTERED: SessionInfo = { user: "tacuser", port: "pts/1", remoteAddress: "192.0.2.1", privilegeLevel: 15, taskBase: "t1", registeredAtMs: 1_700_000_000_000 };

const exec = (auid: number, ses: number, extra: Partial<ExecEvent> = {}) => ({ auid, ses, tty: "pts1", timeMs: 1_700_000_000_500, auidName: undefined, ...extra }) as ExecEvent;

function resolver(fallback: FallbackPolicy = { minUid: undefined, group: undefined }) {
  let now = 0;
  const lookups: [number, number, number][] = [];
  const known = new Map<number, SessionInfo>([[42, REGISTERED]]);
  const r = new SessionResolver(
    async (ses, auid, timeMs) => {
      lookups.push([ses, auid, timeMs]);
      const session = known.get(ses);
      return session !== undefined && timeMs >= session.registeredAtMs ? session : undefined;
    },
    fallback,
    ACCOUNTS,
    () => now,
  );
  return { r, lookups, known, advance: (ms: number) => (now += ms) };
}

describe("SessionResolver", () => {
  test("a registered session is found and cached; unknown sessions are asked every time", async () => {
    const { r, lookups, advance } = resolver();
    expect(await r.resolve(exec(1000, 42))).toEqual({ session: REGISTERED });
    expect(await r.resolve(exec(1000, 42))).toEqual({ session: REGISTERED });
    expect(await r.resolve(exec(1000, 43))).toEqual({ skip: "not a registered TACACS+ session" });
    expect(await r.resolve(exec(1000, 43))).toMatchObject({ skip: expect.any(String) });
    const t = 1_700_000_000_500;
    expect(lookups).toEqual([
      [42, 1000, t],
      [43, 1000, t],
      [43, 1000, t],
    ]);
    advance(CACHE_TTL_MS + 1);
    await r.resolve(exec(1000, 42));
    expect(lookups.length).toBe(4);
  });

  test("a session registered after a miss is found on the next exec (no negative cache)", async () => {
    const { r, known } = resolver();
    expect(await r.resolve(exec(1000, 50))).toMatchObject({ skip: expect.any(String) });
    known.set(50, REGISTERED);
    expect(await r.resolve(exec(1000, 50))).toEqual({ session: REGISTERED });
  });

  test("an exec from before the registration is not the session's, even with the session cached", async () => {
    const { r, lookups } = resolver();
    expect(await r.resolve(exec(1000, 42))).toEqual({ session: REGISTERED });
    expect(await r.resolve(exec(1000, 42, { timeMs: REGISTERED.registeredAtMs - 1000 }))).toMatchObject({ skip: expect.any(String) });
    expect(lookups.length).toBe(2);
  });

  test("unset auid or ses is never a login", async () => {
    const { r, lookups } = resolver({ minUid: 0, group: undefined });
    expect(await r.resolve(exec(0xffffffff, 42))).toMatchObject({ skip: expect.stringContaining("unset") });
    expect(await r.resolve(exec(1000, 0xffffffff))).toMatchObject({ skip: expect.stringContaining("unset") });
    expect(lookups).toEqual([]);
  });

  test("fallback by minimum uid: the local user name, the record's tty, priv-lvl 1", async () => {
    const { r } = resolver({ minUid: 1000, group: undefined });
    expect(await r.resolve(exec(1001, 9))).toEqual({ session: { user: "bob", port: "pts1", remoteAddress: "", privilegeLevel: 1, taskBase: "audit1700000000", registeredAtMs: 0 } });
    expect(await r.resolve(exec(500, 9))).toMatchObject({ skip: expect.stringContaining("outside the fallback") });
    expect(await r.resolve(exec(4242, 9))).toMatchObject({ skip: "login uid 4242 has no user name" });
    // auditd's enriched AUID names users the local files do not know (LDAP, NSS).
    expect(await r.resolve(exec(4242, 9, { auidName: "ldapuser" }))).toMatchObject({ session: { user: "ldapuser" } });
  });

  test("fallback by group: listed members and users whose primary group it is", async () => {
    const { r } = resolver({ minUid: undefined, group: "netops" });
    expect(await r.resolve(exec(1001, 9))).toMatchObject({ session: { user: "bob" } });
    expect(await r.resolve(exec(500, 9))).toMatchObject({ session: { user: "ops" } });
    expect(await r.resolve(exec(1000, 9))).toMatchObject({ skip: expect.any(String) });
  });
});
