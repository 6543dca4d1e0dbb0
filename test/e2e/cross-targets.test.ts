/**
 * Every release target builds offline from the npm registry's runtimes and runs: the x64 ones
 * natively, arm64 under qemu-user with Debian's arm64 C library.
 */
import { $ } from "bun";
import { beforeAll, describe, expect, test } from "bun:test";
import { havePeer } from "../support/peer";

const root = new URL("../..", import.meta.url).pathname;
const example = `${root}packaging/examples/plain.json`;
const qemu = havePeer("qemu-aarch64");

describe("release targets", () => {
  beforeAll(async () => {
    await $`${process.execPath} ${root}scripts/build.ts --all-targets`.quiet();
  }, 180_000);

  for (const target of ["linux-x64", "linux-x64-baseline"]) {
    test(`${target}: --version and --check-config`, async () => {
      const binary = `${root}dist/${target}/tacacsrs-agentd`;
      expect(await $`${binary} --version`.text()).toContain("features: tls, psk");
      expect(await $`${binary} --config ${example} --check-config`.text()).toBe("configuration OK\n");
    });
  }

  test.skipIf(!qemu)("linux-arm64 is an aarch64 executable that runs under qemu-user", async () => {
    const binary = `${root}dist/linux-arm64/tacacsrs-agentd`;
    expect(await $`file -b ${binary}`.text()).toContain("ARM aarch64");
    const run = (args: string[]) => $`qemu-aarch64 -L /usr/aarch64-linux-gnu ${binary} ${args}`.text();
    expect(await run(["--version"])).toContain("features: tls, psk");
    expect(await run(["--config", example, "--check-config"])).toBe("configuration OK\n");
  }, 60_000);
});
