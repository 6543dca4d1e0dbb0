/**
 * Which packages a build makes. The x64-baseline build (CPUs without AVX2) gets its own package
 * name, tacacsrs-agentd-baseline (it conflicts with, replaces and provides tacacsrs-agentd), so a
 * repository can hold both; when its executable is byte-identical to the x64 one (Bun 1.4.5's
 * npm runtimes for the two targets are the same file) it is not packaged at all.
 */
import { readFileSync } from "node:fs";
import { RELEASE_TARGETS, type ReleaseTarget } from "../runtimes";

export const PACKAGE_NAME = "tacacsrs-agentd";

export interface PackageVariant {
  target: ReleaseTarget;
  /** The package's name: tacacsrs-agentd, or tacacsrs-agentd-baseline. */
  name: string;
  /** Absolute directory holding the target's tacacsrs-agentd executable. */
  binaryDir: string;
  /** Why this target is not packaged, if it is not. */
  skip?: string;
}

function sameFile(a: string, b: string): boolean {
  return readFileSync(a).equals(readFileSync(b));
}

export function packageVariants(root: string, hostOnly: boolean): PackageVariant[] {
  if (hostOnly) return [{ target: RELEASE_TARGETS[0]!, name: PACKAGE_NAME, binaryDir: `${root}dist` }];
  return RELEASE_TARGETS.map((target) => {
    const binaryDir = `${root}dist/${target.name}`;
    if (!target.name.endsWith("-baseline")) return { target, name: PACKAGE_NAME, binaryDir };
    const regular = `${root}dist/${target.name.replace(/-baseline$/, "")}/tacacsrs-agentd`;
    const skip = sameFile(`${binaryDir}/tacacsrs-agentd`, regular) ? "byte-identical to the x64 build: its package serves both" : undefined;
    return { target, name: `${PACKAGE_NAME}-baseline`, binaryDir, ...(skip ? { skip } : {}) };
  });
}
