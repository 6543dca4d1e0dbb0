/**
 * The release packages, checked with the packaging tools themselves: build the host .deb and .rpm
 * (`npm run package -- --host-only`), inspect them, verify the systemd unit, run the extracted
 * binaries, and take the .deb through a real install → upgrade → remove → purge cycle.
 */
import { $ } from "bun";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { havePeer } from "../support/peer";

const root = new URL("../..", import.meta.url).pathname;
const version = JSON.parse(readFileSync(`${root}package.json`, "utf8")).version as string;
const deb = `${root}dist/packages/tacacsrs-agentd_${version}_amd64.deb`;
const rpm = `${root}dist/packages/tacacsrs-agentd-${version}-1.x86_64.rpm`;
const tools = ["dpkg-deb", "dpkg", "rpm", "rpmbuild", "systemd-analyze"].every(havePeer);
let work = "";

describe.skipIf(!tools)("release packages", () => {
  beforeAll(async () => {
    await $`bun ${root}scripts/package.ts --host-only`.quiet();
    work = mkdtempSync(join(tmpdir(), "tacacsrs-pkg-"));
    await $`dpkg-deb -x ${deb} ${work}/root && dpkg-deb -e ${deb} ${work}/control`;
  }, 120_000);
  afterAll(() => work && rmSync(work, { recursive: true, force: true }));

  test(".deb: binary, tacon link, unit, 0640 conffile, licence and example configs", async () => {
    const info = await $`dpkg-deb --info ${deb}`.text();
    expect(info).toContain("Package: tacacsrs-agentd");
    expect(info).toContain("Architecture: amd64");
    const contents = await $`dpkg-deb --contents ${deb}`.text();
    expect(contents).toMatch(/-rwxr-xr-x root\/root\s+\d+ \S+ \S+ \.\/usr\/bin\/tacacsrs-agentd\n/);
    expect(contents).toContain("./usr/bin/tacon -> tacacsrs-agentd");
    expect(contents).toMatch(/-rw-r----- root\/root\s+\d+ \S+ \S+ \.\/etc\/default\/tacacsrs-agentd\n/);
    expect(contents).toContain("./lib/systemd/system/tacacsrs-agentd.service");
    expect(contents).toContain("./usr/share/doc/tacacsrs-agentd/copyright");
    expect(contents).toMatch(/\.\/usr\/share\/doc\/tacacsrs-agentd\/examples\/\S+\.json/);
    expect(readFileSync(`${work}/control/conffiles`, "utf8")).toBe(
      "/etc/audit/plugins.d/tacacsrs-agentd.conf\n/etc/audit/rules.d/tacacsrs-agentd.rules\n/etc/default/tacacsrs-agentd\n",
    );
    // The audit plugin (issue 22): a link to the binary, its auditd conf inactive, its rules commented out.
    expect(contents).toContain("./usr/bin/tacacsrs-audit-plugin -> tacacsrs-agentd");
    expect(readFileSync(`${work}/root/etc/audit/plugins.d/tacacsrs-agentd.conf`, "utf8")).toMatch(/^active = no$/m);
    expect(readFileSync(`${work}/root/etc/audit/rules.d/tacacsrs-agentd.rules`, "utf8")).not.toMatch(/^-a /m);
    for (const script of ["postinst", "prerm", "postrm"]) {
      expect(statSync(`${work}/control/${script}`).mode & 0o777).toBe(0o755);
      expect((await $`sh -n ${work}/control/${script}`.nothrow()).exitCode).toBe(0);
    }
  });

  test(".rpm: same files, %config(noreplace) environment file, scripts", async () => {
    const files = await $`rpm -qpl ${rpm}`.text();
    for (const path of ["/usr/bin/tacacsrs-agentd", "/usr/bin/tacon", "/usr/lib/systemd/system/tacacsrs-agentd.service", "/etc/sysconfig/tacacsrs-agentd", "/usr/share/licenses/tacacsrs-agentd/LICENSE"]) {
      expect(files).toContain(`${path}\n`);
    }
    expect(files).toMatch(/\/usr\/share\/doc\/tacacsrs-agentd\/examples\/\S+\.json/);
    expect(await $`rpm -qpc ${rpm}`.text()).toBe("/etc/audit/plugins.d/tacacsrs-agentd.conf\n/etc/audit/rules.d/tacacsrs-agentd.rules\n/etc/sysconfig/tacacsrs-agentd\n");
    expect(files).toContain("/usr/bin/tacacsrs-audit-plugin\n");
    const dump = await $`rpm -qp --dump ${rpm}`.text();
    expect(dump).toMatch(/^\/etc\/sysconfig\/tacacsrs-agentd \d+ \d+ \S+ 0100640 root root 1 /m);
    const scripts = await $`rpm -qp --scripts ${rpm}`.text();
    expect(scripts).toContain("useradd -r -g tacacs");
    expect(scripts).toContain("try-restart tacacsrs-agentd.service");
    expect(await $`rpm -qp --queryformat '%{ARCH}' ${rpm}`.text()).toBe("x86_64");
  });

  test("the systemd unit is hardened and passes systemd-analyze verify", async () => {
    const unit = readFileSync(`${work}/root/lib/systemd/system/tacacsrs-agentd.service`, "utf8");
    for (const line of [
      "Type=notify",
      "User=tacacs",
      "Group=tacacs",
      "RuntimeDirectory=tacacs",
      "StateDirectory=tacacsrs-agentd tacacsrs-agentd/spool",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "ProtectHome=yes",
      "PrivateTmp=yes",
      "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
      "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
      "Restart=on-failure",
      "EnvironmentFile=-/etc/default/tacacsrs-agentd",
    ]) {
      expect(unit).toContain(`${line}\n`);
    }
    // Point ExecStart at the extracted binary: verify checks that the command exists.
    const checked = `${work}/tacacsrs-agentd.service`;
    writeFileSync(checked, unit.replace("/usr/bin/tacacsrs-agentd", `${work}/root/usr/bin/tacacsrs-agentd`));
    const verify = await $`systemd-analyze verify --recursive-errors=no ${checked}`.env({ ...process.env, SYSTEMD_LOG_LEVEL: "notice" }).nothrow().quiet();
    expect(`${verify.stdout}${verify.stderr}`).toBe("");
    expect(verify.exitCode).toBe(0);
  });

  test("the extracted binaries run from any directory: --version, tacon, --check-config on every example", async () => {
    const bin = `${work}/root/usr/bin`;
    const version_ = await $`${bin}/tacacsrs-agentd --version`.cwd(tmpdir()).text();
    expect(version_).toContain(`tacacsrs-agentd ${version}`);
    expect(version_).toContain("features: tls, psk");
    const help = await $`${bin}/tacon --help`.cwd(tmpdir()).text();
    expect(help).toContain("service-endpoint");
    const examples = `${work}/root/usr/share/doc/tacacsrs-agentd/examples`;
    const jsonFiles = readdirSync(examples).filter((name) => name.endsWith(".json"));
    expect(jsonFiles.length).toBeGreaterThanOrEqual(4);
    for (const name of jsonFiles) {
      const check = await $`${bin}/tacacsrs-agentd --config ${examples}/${name} --check-config`.cwd(tmpdir()).nothrow().quiet();
      expect({ name, exit: check.exitCode, out: `${check.stdout}` }).toEqual({ name, exit: 0, out: "configuration OK\n" });
    }
  });

  // dpkg really installs the package on this machine (root on a throw-away machine, as in CI).
  test.skipIf(process.getuid?.() !== 0)(
    "dpkg: install creates the tacacs user, upgrade and remove keep the operator's file, purge removes it",
    async () => {
      try {
        await $`dpkg -i ${deb}`.quiet();
        expect(await $`getent group tacacs`.nothrow().text()).toStartWith("tacacs:");
        expect(await $`getent passwd tacacs`.nothrow().text()).toContain("/usr/sbin/nologin");
        expect(readFileSync("/usr/bin/tacon", "utf8").length).toBeGreaterThan(0);
        writeFileSync("/etc/default/tacacsrs-agentd", 'TACACSRS_AGENTD_ARGS="--server-addr 127.0.0.1:49"\n');
        await $`dpkg -i ${deb}`.quiet(); // the same version again: an upgrade run of every script
        expect(readFileSync("/etc/default/tacacsrs-agentd", "utf8")).toContain("127.0.0.1:49");
        await $`dpkg -r tacacsrs-agentd`.quiet();
        expect(existsSync("/usr/bin/tacacsrs-agentd")).toBe(false);
        expect(readFileSync("/etc/default/tacacsrs-agentd", "utf8")).toContain("127.0.0.1:49");
        await $`dpkg -P tacacsrs-agentd`.quiet();
        expect(existsSync("/etc/default/tacacsrs-agentd")).toBe(false);
      } finally {
        await $`dpkg -P tacacsrs-agentd`.nothrow().quiet();
      }
    },
    60_000,
  );
});
