import { describe, expect, test } from "bun:test";
import { configWords, parseSessionArgs, SessionUsageError } from "./options";

const noFile = () => [];
const parse = (argv: string[], file: string[] = []) => parseSessionArgs(argv, () => file);

describe("tacacs-session flags", () => {
  test("defaults: fail closed, a cache, no allowlist, an interactive shell", () => {
    const o = parseSessionArgs([], noFile);
    expect(o).toMatchObject({ failurePolicy: "closed", cacheTtlMs: 60_000, allowlist: [], shell: "/bin/bash", accounting: true, run: { kind: "shell" }, decisionTimeoutMs: 5000 });
    expect(o.endpoint).toEqual({ kind: "unix", path: "/run/tacacs/tacacs.sock" });
  });

  test("-c COMMAND as sshd passes it to a login shell; -- a program; flags before them", () => {
    expect(parse(["-c", "id; ls /"]).run).toEqual({ kind: "command", command: "id; ls /", rest: [] });
    expect(parse(["--fail-policy", "open", "--", "ls", "-c"]).run).toEqual({ kind: "program", argv: ["ls", "-c"] });
    expect(() => parse(["-c"])).toThrow(SessionUsageError);
  });

  test("the settings file comes first, the command line wins", () => {
    const file = configWords("# site settings\n--fail-policy open   # during the migration\n--allow /usr/bin/env,/usr/bin/locale\n");
    expect(file).toEqual(["--fail-policy", "open", "--allow", "/usr/bin/env,/usr/bin/locale"]);
    const o = parse(["--fail-policy", "closed"], file);
    expect(o.failurePolicy).toBe("closed");
    expect(o.allowlist).toEqual(["/usr/bin/env", "/usr/bin/locale"]);
  });

  test("bad values are named", () => {
    expect(() => parse(["--fail-policy", "maybe"])).toThrow('--fail-policy: expected closed or open, got "maybe"');
    expect(() => parse(["--allow", "ls"])).toThrow('--allow: "ls" is not an absolute path');
    expect(() => parse(["--shell", "bash"])).toThrow("not an absolute path");
    expect(() => parse(["--decision-timeout-seconds", "0"])).toThrow("--decision-timeout-seconds");
    expect(() => parse(["--privilege-level", "16"])).toThrow("--privilege-level");
    expect(() => parse(["--authentication-context", "kerberos"])).toThrow("--authentication-context");
    expect(() => parse(["stray"])).toThrow('unexpected argument "stray"');
    expect(() => parseSessionArgs(["--config", "/nonexistent/h18.conf"])).toThrow("--config /nonexistent/h18.conf");
  });
});
