/**
 * The options of `tacon pam`, written after it on the PAM line as name=value words (the style
 * of pam_tacplus and of PAM modules in general):
 *
 *   auth required pam_exec.so expose_authtok quiet /usr/bin/tacon pam login=pap timeout=5
 *
 * A bad option is a PamOptionError naming it; the caller logs it and fails the phase.
 */
import type { Endpoint } from "../../common/endpoint";
import { ConfigError } from "../../config/errors";
import { parseEndpoint } from "../../config/address";

export class PamOptionError extends Error {
  override readonly name = "PamOptionError";
}

export type LoginType = "pap" | "ascii";

export interface PamOptions {
  /** The agent's API socket (or loopback host:port). */
  endpoint: Endpoint;
  /** RFC 8907 §5.4.2: PAP (one START with the password) or ASCII login (START, GETPASS, CONTINUE). */
  login: LoginType;
  /** Authorization and accounting "service" (RFC 8907 §8.2), like pam_tacplus's service=. */
  service: string;
  /** Authorization and accounting "protocol" (§8.2), like pam_tacplus's protocol=; "" sends none. */
  protocol: string;
  privilegeLevel: number;
  /** The hard bound on the whole phase: the process exits at this point, whatever it waits for. */
  timeoutMs: number;
  /** When accounting fails: "best-effort" lets the session open/close, "required" fails it. */
  accounting: "best-effort" | "required";
  /** Where the one log line of a failure goes (syslog datagram socket). */
  logSocket: string;
}

export const DEFAULT_OPTIONS: Readonly<Omit<PamOptions, "endpoint">> & { endpoint: string } = Object.freeze({
  endpoint: "/run/tacacs/tacacs.sock",
  login: "pap",
  service: "shell",
  protocol: "ssh",
  privilegeLevel: 1,
  timeoutMs: 10_000,
  accounting: "best-effort",
  logSocket: "/dev/log",
});

/** Longest hard timeout: sshd's default LoginGraceTime is 120 s, and a login should fail long before. */
const MAX_TIMEOUT_MS = 60_000;

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new PamOptionError(`${name}=${value}: expected ${allowed.join(" or ")}`);
  return value as T;
}

/** A TACACS+ argument value: printable ASCII without "=" or "*", so "service=X" stays one argument (§6.1). */
function argValue(name: string, value: string, allowEmpty: boolean): string {
  if (value === "" && !allowEmpty) throw new PamOptionError(`${name}= must not be empty`);
  if (!/^[\x21-\x7e]*$/.test(value) || /[=*]/.test(value)) throw new PamOptionError(`${name}=${value}: expected printable ASCII without spaces, "=" or "*"`);
  return value;
}

function seconds(name: string, value: string): number {
  if (!/^\d+(\.\d{1,3})?$/.test(value)) throw new PamOptionError(`${name}=${value}: expected seconds, e.g. 5 or 2.5`);
  const ms = Math.round(Number(value) * 1000);
  if (ms < 100 || ms > MAX_TIMEOUT_MS) throw new PamOptionError(`${name}=${value}: expected 0.1 to ${MAX_TIMEOUT_MS / 1000} seconds`);
  return ms;
}

const SETTERS: Record<string, (options: PamOptions, value: string) => void> = {
  "service-endpoint": (o, v) => {
    try {
      o.endpoint = parseEndpoint(v, "service-endpoint");
    } catch (error) {
      if (error instanceof ConfigError) throw new PamOptionError(error.message);
      throw error;
    }
  },
  login: (o, v) => (o.login = oneOf("login", v, ["pap", "ascii"] as const)),
  service: (o, v) => (o.service = argValue("service", v, false)),
  protocol: (o, v) => (o.protocol = argValue("protocol", v, true)),
  "privilege-level": (o, v) => {
    if (!/^\d{1,2}$/.test(v) || Number(v) > 15) throw new PamOptionError(`privilege-level=${v}: expected 0 to 15`);
    o.privilegeLevel = Number(v);
  },
  timeout: (o, v) => (o.timeoutMs = seconds("timeout", v)),
  accounting: (o, v) => (o.accounting = oneOf("accounting", v, ["best-effort", "required"] as const)),
  "log-socket": (o, v) => {
    if (!v.startsWith("/")) throw new PamOptionError(`log-socket=${v}: expected an absolute path`);
    o.logSocket = v;
  },
};

export const OPTION_NAMES = Object.keys(SETTERS);

/** Parses the words after `tacon pam`; throws PamOptionError for the first bad one. */
export function parsePamOptions(words: readonly string[]): PamOptions {
  const options: PamOptions = { ...DEFAULT_OPTIONS, endpoint: parseEndpoint(DEFAULT_OPTIONS.endpoint, "service-endpoint") };
  const seen = new Set<string>();
  for (const word of words) {
    const at = word.indexOf("=");
    const name = (at < 0 ? word : word.slice(0, at)).replace(/^--/, "");
    const set = SETTERS[name];
    if (set === undefined) throw new PamOptionError(`unknown option "${word}" (expected name=value, names: ${OPTION_NAMES.join(", ")})`);
    if (at < 0) throw new PamOptionError(`option "${word}" needs a value: ${name}=...`);
    if (seen.has(name)) throw new PamOptionError(`option ${name}= given twice`);
    seen.add(name);
    set(options, word.slice(at + 1));
  }
  return options;
}

/** The log socket named on the line, even when other options are bad (best effort, for the failure's log line). */
export function logSocketOf(words: readonly string[]): string {
  for (const word of words) {
    const value = word.replace(/^--/, "").match(/^log-socket=(\/.*)$/)?.[1];
    if (value !== undefined) return value;
  }
  return DEFAULT_OPTIONS.logSocket;
}
