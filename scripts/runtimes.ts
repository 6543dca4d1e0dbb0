/**
 * Bun runtimes for cross-compiling, taken from the npm registry (the `@oven/bun-linux-*` packages)
 * with `npm pack`, so no build step downloads anything from outside the package registry.
 */
import { $ } from "bun";
import { existsSync, mkdirSync } from "node:fs";

export interface ReleaseTarget {
  /** Our name for it, used in dist/ and package file names. */
  name: "linux-x64" | "linux-x64-baseline" | "linux-arm64";
  /** Debian and RPM architecture names. */
  debArch: string;
  rpmArch: string;
  /** Bun's compile target and the npm package holding its runtime. */
  bunTarget: "bun-linux-x64" | "bun-linux-x64-baseline" | "bun-linux-arm64";
  npmPackage: string;
}

export const RELEASE_TARGETS: readonly ReleaseTarget[] = [
  { name: "linux-x64", debArch: "amd64", rpmArch: "x86_64", bunTarget: "bun-linux-x64", npmPackage: "@oven/bun-linux-x64" },
  { name: "linux-x64-baseline", debArch: "amd64", rpmArch: "x86_64", bunTarget: "bun-linux-x64-baseline", npmPackage: "@oven/bun-linux-x64-baseline" },
  { name: "linux-arm64", debArch: "arm64", rpmArch: "aarch64", bunTarget: "bun-linux-arm64", npmPackage: "@oven/bun-linux-aarch64" },
];

/** Path of the Bun runtime for `target`, fetched once into node_modules/.cache. */
export async function runtimeFor(target: ReleaseTarget, root: string): Promise<string> {
  const version = (await Bun.file(`${root}node_modules/bun/package.json`).json()).version as string;
  const cache = `${root}node_modules/.cache/bun-runtimes/${target.name}-${version}`;
  const binary = `${cache}/package/bin/bun`;
  if (existsSync(binary)) return binary;
  mkdirSync(cache, { recursive: true });
  const tarball = (await $`npm pack --silent ${target.npmPackage}@${version}`.cwd(cache).quiet().text()).trim().split("\n").pop()!;
  await $`tar -xzf ${tarball} && rm -f ${tarball}`.cwd(cache).quiet();
  if (!existsSync(binary)) throw new Error(`${target.npmPackage}@${version} has no bin/bun`);
  return binary;
}
