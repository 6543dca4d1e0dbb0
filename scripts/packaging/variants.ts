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

/** The packages to make from the builds in `dist` (dist/tacacsrs-agentd, dist/<target>/tacacsrs-agentd). */
export function packageVariants(dist: string, hostOnly: boolean): PackageVariant[] {
  if (hostOnly) return [{ target: RELEASE_TARGETS[0]!, name: PACKAGE_NAME, binaryDir: dist }];
  return RELEASE_TARGETS.map((target) => {
    const binaryDir = `${dist}/${target.name}`;
    if (!target.name.endsWith("-baseline")) return { target, name: PACKAGE_NAME, binaryDir };
    const regular = `${dist}/${target.name.replace(/-baseline$/, "")}/tacacsrs-agentd`;
    const skip = sameFile(`${binaryDir}/tacacsrs-agentd`, regular) ? "byte-identical to the x64 build: its package serves both" : undefined;
    return { target, name: `${PACKAGE_NAME}-baseline`, binaryDir, ...(skip ? { skip } : {}) };
  });
}
