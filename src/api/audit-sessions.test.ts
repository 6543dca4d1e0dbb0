import { describe, expect, test } from "bun:test";
import { AuditSessionRegistry, type AuditSession } from "./audit-sessions";

const session = (sessionId: number, loginUid = 1000): Omit<AuditSession, "registeredAtMs"> => ({
  sessionId,
  loginUid,
  user: `user${sessionId}`,
  port: "pts/1",
  remoteAddress: "192.0.2.7",
  privilegeLevel: 15,
  taskBase: `t${sessionId}`,
});

describe("AuditSessionRegistry", () => {
  test("a registered session is found for its login uid only", () => {
    const registry = new AuditSessionRegistry({ now: () => 0 });
    expect(registry.register(session(7))).toBe("registered");
    expect(registry.lookup(7, 1000)?.user).toBe("user7");
    expect(registry.lookup(7, 1001)).toBeUndefined();
    expect(registry.lookup(8, 1000)).toBeUndefined();
    expect(registry.counters).toMatchObject({ registered: 1, lookups: 3, lookupsFound: 1 });
  });

  test("an exec from before the registration (the login's PAM helpers) is not the session's", () => {
    let now = 5000;
    const registry = new AuditSessionRegistry({ now: () => now });
    registry.register(session(7));
    now = 9000;
    expect(registry.lookup(7, 1000, 4989)).toBeUndefined();
    // The kernel's coarse clock may stamp an exec that followed the registration a tick earlier.
    expect(registry.lookup(7, 1000, 4990)?.registeredAtMs).toBe(5000);
    expect(registry.lookup(7, 1000, 0)).toBeDefined();
  });

  test("unregistering forgets the session; a second unregister finds nothing", () => {
    const registry = new AuditSessionRegistry({ now: () => 0 });
    registry.register(session(7));
    expect(registry.unregister(7)).toBe(true);
    expect(registry.unregister(7)).toBe(false);
    expect(registry.lookup(7, 1000)).toBeUndefined();
    expect(registry.counters.unregistered).toBe(1);
  });

  test("the same login registering again replaces its entry without counting against the bound", () => {
    const registry = new AuditSessionRegistry({ now: () => 0 }, { maxSessions: 1, idleMs: 1000 });
    registry.register(session(7));
    expect(registry.register({ ...session(7), user: "other" })).toBe("registered");
    expect(registry.lookup(7, 1000)?.user).toBe("other");
    expect(registry.size).toBe(1);
  });

  test("the first login owns its audit session: sudo inside it neither replaces nor removes it", () => {
    const registry = new AuditSessionRegistry({ now: () => 0 });
    registry.register(session(7));
    expect(registry.register({ ...session(7), user: "root", taskBase: "sudo-1" })).toBe("exists");
    expect(registry.unregister(7, "sudo-1")).toBe(false);
    expect(registry.lookup(7, 1000)?.user).toBe("user7");
    expect(registry.unregister(7, "t7")).toBe(true);
    expect(registry.counters).toMatchObject({ alreadyRegistered: 1, unregistered: 1 });
  });

  test("a full registry refuses new sessions and counts them", () => {
    const registry = new AuditSessionRegistry({ now: () => 0 }, { maxSessions: 2, idleMs: 1000 });
    expect(registry.register(session(1))).toBe("registered");
    expect(registry.register(session(2))).toBe("registered");
    expect(registry.register(session(3))).toBe("full");
    expect(registry.counters.rejectedFull).toBe(1);
    expect(registry.size).toBe(2);
  });

  test("sessions idle for the expiry are forgotten; a lookup keeps a session alive", () => {
    let now = 0;
    const registry = new AuditSessionRegistry({ now: () => now }, { maxSessions: 2, idleMs: 1000 });
    registry.register(session(1));
    registry.register(session(2));
    now = 900;
    expect(registry.lookup(1, 1000)).toBeDefined();
    now = 1500;
    // Session 2 was idle 1500 ms: gone, and its slot is free again.
    expect(registry.register(session(3))).toBe("registered");
    expect(registry.lookup(2, 1000)).toBeUndefined();
    expect(registry.lookup(1, 1000)).toBeDefined();
    expect(registry.counters.expired).toBe(1);
  });
});
