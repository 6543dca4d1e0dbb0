/**
 * Shared by the configuration tests: run loadConfig like the daemon does, and a scratch
 * directory per test file, removed after the file's tests (bun test fires no process
 * "exit" event, so the cleanup is an afterAll hook).
 */
import { afterAll } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type ConfigOutcome } from "./index";
import type { RuntimeConfig } from "./types";

export const BUILD = { version: "1.2.3", commit: "abc1234", features: ["tls", "psk"], runtime: "bun 1.4.5" };

export function run(argv: string[], env: Record<string, string | undefined> = {}, clock?: () => number): Promise<ConfigOutcome> {
  return loadConfig(argv, env, BUILD, clock);
}

/** The config of a run that must succeed. */
export async function config(argv: string[], env: Record<string, string | undefined> = {}): Promise<RuntimeConfig> {
  const outcome = await run(argv, env);
  if (outcome.kind !== "run") throw new Error(`expected a config, got exit ${outcome.code}: ${outcome.stderr}`);
  return outcome.config;
}

export interface Scratch {
  /** The directory, created on first use. */
  dir(): string;
  /** Writes a file (mode 600 unless given) and returns its path. */
  file(name: string, content: string | Uint8Array, mode?: number): string;
}

/** Call once at the top level of a test file. */
export function scratch(): Scratch {
  let dir: string | undefined;
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const ensure = () => (dir ??= mkdtempSync(join(tmpdir(), "agentd-config-")));
  return {
    dir: ensure,
    file(name, content, mode = 0o600) {
      const path = join(ensure(), name);
      writeFileSync(path, content);
      chmodSync(path, mode);
      return path;
    },
  };
}
