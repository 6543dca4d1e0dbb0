/**
 * The configuration entry point: command line (and YANG file) in, one frozen RuntimeConfig
 * or an exit (help, version, check, print, error) out. Pure apart from reading files: the
 * daemon calls it at start and again on SIGHUP.
 */
import { scanArgv } from "./argv";
import { renderHelp } from "./definition";
import { ConfigError } from "./errors";
import { printConfig } from "./print";
import { buildRuntimeConfig } from "./runtime";
import { certificateFindings, expiryLines } from "./certificates";
import { Flags } from "./scanned";
import type { RuntimeConfig } from "./types";
import { errorMessage } from "../common/error-message";

export type { RuntimeConfig, Limits } from "./types";
export { ConfigError } from "./errors";
export { certificateFindings, type CertificateInfo } from "./certificates";

export type ConfigOutcome =
  | { kind: "run"; config: RuntimeConfig; warnings: string[] }
  | { kind: "exit"; code: number; stdout: string; stderr: string };

export interface BuildInfo {
  version: string;
  commit: string;
  features: string[];
  /** The runtime compiled in, e.g. "bun 1.4.5": its TLS library (BoringSSL) is only updated with it. */
  runtime: string;
}

const PROGRAM = "tacacsrs-agentd";
/** Exit status for every configuration error. */
export const CONFIG_ERROR_EXIT = 2;

/** Freezes plain objects and arrays; byte arrays and Secrets stay as they are (wipe() writes them). */
function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value)) return value;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== Array.prototype) return value;
  for (const member of Object.values(value)) deepFreeze(member);
  return Object.freeze(value);
}

function warningLines(warnings: readonly string[]): string {
  return warnings.map((warning) => `${PROGRAM}: warning: ${warning}\n`).join("");
}

function failure(error: unknown): ConfigOutcome {
  const message = error instanceof ConfigError ? error.message : `unexpected error while reading the configuration (${errorMessage(error)})`;
  return { kind: "exit", code: CONFIG_ERROR_EXIT, stdout: "", stderr: `${PROGRAM}: ${message}\n` };
}

/** `clock` dates certificates (expiry warnings); tests pass a fixed one. */
export async function loadConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  build: BuildInfo,
  clock: () => number = Date.now,
): Promise<ConfigOutcome> {
  try {
    // Help wins over any other argument, even a malformed one.
    if (argv.includes("--help") || argv.includes("-h")) return { kind: "exit", code: 0, stdout: await renderHelp(build.version), stderr: "" };
    const flags = new Flags(scanArgv(argv));
    if (flags.on("version")) {
      return { kind: "exit", code: 0, stdout: `${PROGRAM} ${build.version} (${build.commit})\nruntime: ${build.runtime}\nfeatures: ${build.features.join(", ")}\n`, stderr: "" };
    }
    const warnings: string[] = [];
    const config = deepFreeze(await buildRuntimeConfig(flags, env, warnings, clock()));
    if (!flags.on("check-config") && !flags.on("print-config")) return { kind: "run", config, warnings };
    const printed = flags.on("print-config") ? printConfig(config) : "";
    if (!flags.on("check-config")) return { kind: "exit", code: 0, stdout: printed, stderr: warningLines(warnings) };
    // --check-config also dates the certificates (on stderr: stdout stays "configuration OK"):
    // each one's expiry, then what needs attention.
    const findings = certificateFindings(config.certificates, clock(), config.certificateExpiryWarningDays);
    const dates = expiryLines(config.certificates).map((line) => `${PROGRAM}: ${line}\n`).join("");
    const findingLines = findings.map((f) => `${PROGRAM}: ${f.severity}: ${f.message}\n`).join("");
    return { kind: "exit", code: 0, stdout: `${printed}configuration OK\n`, stderr: warningLines(warnings) + dates + findingLines };
  } catch (error) {
    return failure(error);
  }
}
