/**
 * Shared by the configuration tests: run loadConfig like the daemon does, in a temp dir
 * that is removed when the test process exits.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type ConfigOutcome } from "./index";
import type { RuntimeConfig } from "./types";

export const BUILD = { version: "1.2.3", commit: "abc1234", features: ["tls", "psk"] };

export function run(argv: string[], env: Record<string, string | undefined> = {}, clock?: () => number): Promise<ConfigOutcome> {
  return loadConfig(argv, env, BUILD, clock);
}

/** The config of a run that must succeed. */
export async function config(argv: string[], env: Record<string, string | undefined> = {}): Promise<RuntimeConfig> {
  const outcome = await run(argv, env);
  if (outcome.kind !== "run") throw new Error(`expected a config, got exit ${outcome.code}: ${outcome.stderr}`);
  return outcome.config;
}

let dir: string | undefined;

/** A private temp dir for this test process. */
export function tempDir(): string {
  if (!dir) {
    const created = mkdtempSync(join(tmpdir(), "agentd-config-"));
    process.on("exit", () => rmSync(created, { recursive: true, force: true }));
    dir = created;
  }
  return dir;
}

/** Writes a file in the temp dir (mode 600 unless given) and returns its path. */
export function tempFile(name: string, content: string | Uint8Array, mode = 0o600): string {
  const path = join(tempDir(), name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}
