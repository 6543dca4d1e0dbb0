/**
 * The release packages, checked with the packaging tools themselves: build the host .deb and .rpm
 * (`npm run package -- --host-only --fast`), inspect them, run lintian and rpmlint with our
 * overrides, check the man pages and completion against `--help`, build again and compare bytes,
 * verify the systemd unit, run the extracted binaries, and take the .deb through a real
 * install → enable → upgrade → remove → purge cycle (the .rpm through one in a scratch root).
 */
import { $ } from "bun";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { havePeer } from "../support/peer";

const root = new URL("../..", import.meta.url).pathname;
const version = JSON.parse(readFileSync(`${root}package.json`, "utf8")).version as string;
const deb = `${root}dist/packages/tacacsrs-agentd_${version}_amd64.deb`;
const rpm = `${root}dist/packages/tacacsrs-agentd-${version}-1.x86_64.rpm`;
const tools = ["dpkg-deb", "dpkg", "rpm", "rpmbuild", "systemd-analyze", "lintian", "rpmlint", "groff", "man", "bash"].every(havePeer);
const sha256 = (file: string) => new Bun.CryptoHasher("sha256").update(readFileSync(file)).digest("hex");
let work = "";
// Generous: eight people share two cores today; each step takes seconds when the machine is idle.
setDefaultTimeout(60_000);

describe.skipIf(!tools)("release packages", () => {
  beforeAll(async () => {
    await $`bun ${root}scripts/package.ts --host-only --fast`.quiet();
    work = mkdtempSync(join(tmpdir(), "tacacsrs-pkg-"));
    await $`dpkg-deb -x ${deb} ${work}/root && dpkg-deb -e ${deb} ${work}/control`;
  }, 240_000);
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
    for (const service of ["sshd", "sudo", "login"]) expect(contents).toContain(`./usr/share/doc/tacacsrs-agentd/examples/pam.d/${service}\n`);
    expect(readFileSync(`${work}/control/conffiles`, "utf8")).toBe(
      "/etc/audit/plugins.d/tacacsrs-agentd.conf\n/etc/audit/rules.d/tacacsrs-agentd.rules\n/etc/default/tacacsrs-agentd\n",
    );
    // The audit plugin (issue 22): a link to the binary, its auditd conf inactive, its rules commented out.
    expect(contents).toContain("./usr/bin/tacacsrs-audit-plugin -> tacacsrs-agentd");
    expect(contents).toContain("./usr/bin/tacacs-session -> tacacsrs-agentd");
    expect(readFileSync(`${work}/root/etc/audit/plugins.d/tacacsrs-agentd.conf`, "utf8")).toMatch(/^active = no$/m);
    expect(readFileSync(`${work}/root/etc/audit/rules.d/tacacsrs-agentd.rules`, "utf8")).not.toMatch(/^-a /m);
    for (const path of ["usr/share/doc/tacacsrs-agentd/changelog.gz", "usr/share/doc/tacacsrs-agentd/README.md.gz", "usr/share/doc/tacacsrs-agentd/README.Debian", "usr/share/man/man8/tacacsrs-agentd.8.gz", "usr/share/man/man1/tacon.1.gz", "usr/share/bash-completion/completions/tacacsrs-agentd", "usr/share/bash-completion/completions/tacon", "usr/share/lintian/overrides/tacacsrs-agentd"]) {
      expect(contents).toContain(`./${path}\n`);
    }
    expect(contents).toMatch(/drwxr-x--- root\/root\s+0 \S+ \S+ \.\/etc\/tacacs\/\n/);
    expect(info).toContain("Depends: libc6 (>= 2.27), adduser, init-system-helpers (>= 1.52)");
    for (const line of info.split("\n")) expect(line.length).toBeLessThan(80);
    const changelog = await $`zcat ${work}/root/usr/share/doc/tacacsrs-agentd/changelog.gz`.text();
    expect(changelog).toStartWith(`tacacsrs-agentd (${version}) unstable; urgency=medium\n`);
    for (const script of ["postinst", "prerm", "postrm"]) {
      expect(statSync(`${work}/control/${script}`).mode & 0o777).toBe(0o755);
      expect((await $`sh -n ${work}/control/${script}`.nothrow()).exitCode).toBe(0);
    }
  });

  test(".rpm: same files, %config(noreplace) environment file, scripts", async () => {
    const files = await $`rpm -qpl ${rpm}`.text();
    for (const path of ["/usr/bin/tacacsrs-agentd", "/usr/bin/tacon", "/usr/lib/systemd/system/tacacsrs-agentd.service", "/etc/sysconfig/tacacsrs-agentd", "/usr/share/licenses/tacacsrs-agentd/LICENSE", "/usr/share/licenses/tacacsrs-agentd/copyright", "/usr/share/man/man8/tacacsrs-agentd.8.gz", "/usr/share/man/man1/tacon.1.gz", "/usr/share/bash-completion/completions/tacon", "/usr/lib/sysusers.d/tacacsrs-agentd.conf", "/etc/tacacs"]) {
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
    expect(scripts).toContain("disable --now tacacsrs-agentd.service"); // %systemd_preun
    expect(scripts).toContain("preset tacacsrs-agentd.service"); // %systemd_post
    expect(dump).toMatch(/^\/etc\/tacacs \d+ \d+ \S+ 040750 root tacacs /m);
    expect(await $`rpm -qp --queryformat '%{ARCH} %{GROUP} %{PACKAGER}' ${rpm}`.text()).toBe("x86_64 System Environment/Daemons tacacsrs developers <maintainers@tacacsrs.invalid>");
    expect(await $`rpm -qp --changelog ${rpm}`.text()).toContain(`- ${version}-1\n`);
    expect(await $`rpm -qpd ${rpm}`.text()).toContain("/usr/share/doc/tacacsrs-agentd/README.md.gz\n");
  });

  test("lintian (pedantic) and rpmlint find nothing the overrides do not explain", async () => {
    const lintian = await $`lintian --fail-on error,warning --display-info --pedantic ${deb}`.nothrow().quiet();
    const findings = `${lintian.stdout}`.split("\n").filter((line) => /^[EWIPX]: /.test(line));
    expect({ exit: lintian.exitCode, findings }).toEqual({ exit: 0, findings: [] });
    const rpmlint = await $`rpmlint -c ${root}packaging/rpm/rpmlint.toml ${rpm}`.nothrow().quiet();
    expect(`${rpmlint.stdout}`).toContain("0 errors, 0 warnings");
    expect(rpmlint.exitCode).toBe(0);
  }, 180_000);

  test("the copyright file names every licence the binary carries: ours, the npm packages', Bun's", () => {
    const copyright = readFileSync(`${work}/root/usr/share/doc/tacacsrs-agentd/copyright`, "utf8");
    expect(copyright).toStartWith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n");
    expect(copyright).toContain("/usr/share/common-licenses/Apache-2.0");
    expect(copyright).not.toContain("TERMS AND CONDITIONS FOR USE, REPRODUCTION");
    const dependencies = Object.keys(JSON.parse(readFileSync(`${root}package.json`, "utf8")).dependencies);
    for (const name of [...dependencies, "long"]) {
      const meta = JSON.parse(readFileSync(`${root}node_modules/${name}/package.json`, "utf8"));
      expect(copyright).toContain(`Files: node_modules/${name}/*\nCopyright: `);
      expect(copyright).toContain(`npm package ${name} ${meta.version}`);
    }
    for (const part of ["JavaScriptCore", "BoringSSL", "LGPL-2+", "tinycc", "zlib-ng", "libjpeg-turbo", "ICU"]) expect(copyright).toContain(part);
    // The rpm carries the same file under %license.
    expect(readFileSync(`${work}/root/usr/share/doc/tacacsrs-agentd/copyright`, "utf8")).toBe(copyright);
  });

  test("the man pages document every --help flag and format without warnings; completion offers flags, values, commands", async () => {
    const bin = `${work}/root/usr/bin`;
    const pages = [["tacacsrs-agentd", "man8/tacacsrs-agentd.8.gz"], ["tacon", "man1/tacon.1.gz"], ["tacacsrs-audit-plugin", "man8/tacacsrs-audit-plugin.8.gz"], ["tacacs-session", "man8/tacacs-session.8.gz"]] as const;
    for (const [program, page] of pages) {
      const source = `${work}/${program}.man`;
      writeFileSync(source, await $`zcat ${work}/root/usr/share/man/${page}`.arrayBuffer().then((bytes) => new Uint8Array(bytes)));
      const groff = await $`groff -man -ww -z ${source}`.nothrow().quiet();
      expect({ program, warnings: `${groff.stderr}`, exit: groff.exitCode }).toEqual({ program, warnings: "", exit: 0 });
      const rendered = await $`man --warnings -l ${source}`.env({ ...process.env, MANWIDTH: "200", LC_ALL: "C.UTF-8", MAN_KEEP_FORMATTING: "" }).text();
      if (program === "tacacsrs-audit-plugin") {
        expect(rendered).toContain("--fallback-min-uid"); // auditd starts it: no --help, its options come from the same ARGS
        continue;
      }
      const help = await $`${bin}/${program} --help`.nothrow().text();
      const flags = [...new Set(help.match(/--[a-z][a-z0-9-]+/g) ?? [])];
      expect(flags.length).toBeGreaterThan(program === "tacon" || program === "tacacs-session" ? 8 : 30);
      for (const flag of flags) expect({ program, flag, documented: rendered.includes(flag) }).toEqual({ program, flag, documented: true });
    }
    const complete = async (program: string, ...words: string[]) => {
      const script = `source ${work}/root/usr/share/bash-completion/completions/${program}; COMP_WORDS=(${program} ${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length}; _${program.replaceAll("-", "_")}; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return (await $`bash -c ${script}`.text()).trim().split("\n").filter(Boolean);
    };
    expect(await complete("tacacsrs-agentd", "--use-")).toEqual(["--use-tls"]);
    expect(await complete("tacacsrs-agentd", "--service-mode", "")).toEqual(["client-api", "tacacs-proxy", "both"]);
    expect(await complete("tacacsrs-agentd", "--psk-key-exchange=psk-o")).toEqual(["psk-only"]);
    expect(await complete("tacacsrs-agentd", "--config", `${work}/root/usr/share/doc/tacacsrs-agentd/examples/pl`)).toEqual([`${work}/root/usr/share/doc/tacacsrs-agentd/examples/plain.json`]);
    expect(await complete("tacon", "")).toEqual(["accounting", "authorization", "authentication", "audit-session", "health", "status", "pam"]);
    expect(await complete("tacon", "--record-type", "w")).toEqual(["watchdog"]);
    expect(await complete("tacon", "accounting", "--js")).toEqual(["--json"]);
    expect(await complete("tacon", "audit-session", "")).toEqual(["register", "unregister"]);
  });

  test("reproducible: a second build of the same commit gives byte-identical packages", async () => {
    const again = mkdtempSync(join(tmpdir(), "tacacsrs-pkg-again-"));
    try {
      await $`bun ${root}scripts/package.ts --host-only --fast --out ${again}`.quiet();
      expect(sha256(`${again}/tacacsrs-agentd_${version}_amd64.deb`)).toBe(sha256(deb));
      expect(sha256(`${again}/tacacsrs-agentd-${version}-1.x86_64.rpm`)).toBe(sha256(rpm));
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  }, 240_000);

  test(".rpm: install, upgrade and erase in a scratch root leave nothing behind", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "tacacsrs-rpmroot-"));
    try {
      // --noscripts: the scratch root has no shell or systemd; the scriptlets are checked above.
      const rpmIn = (...args: string[]) => $`rpm --root ${scratch} --dbpath /var/lib/rpm --nodeps --noscripts ${args}`.quiet();
      await rpmIn("-i", rpm);
      expect(existsSync(`${scratch}/usr/share/man/man1/tacon.1.gz`)).toBe(true);
      await rpmIn("-U", "--replacepkgs", rpm);
      await rpmIn("-e", "tacacsrs-agentd");
      // Only the parent directories rpm made on the way (the rpm database aside).
      const find = [scratch, "-mindepth", "1", "(", "-not", "-type", "d", "-o", "-name", "*tacacs*", ")", "-not", "-path", `${scratch}/var/lib/rpm/*`];
      const left = await $`find ${find}`.text();
      expect(left).toBe("");
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 120_000);

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
      "SystemCallFilter=@system-service",
      "ProtectProc=invisible",
    ]) {
      expect(unit).toContain(`${line}\n`);
    }
    // Point ExecStart at the extracted binary: verify checks that the command exists.
    const checked = `${work}/tacacsrs-agentd.service`;
    writeFileSync(checked, unit.replace("/usr/bin/tacacsrs-agentd", `${work}/root/usr/bin/tacacsrs-agentd`));
    // verify also looks up Documentation=man:tacacsrs-agentd(8): in the package's own man pages.
    const env = { ...process.env, SYSTEMD_LOG_LEVEL: "notice", MANPATH: `${work}/root/usr/share/man` };
    const verify = await $`systemd-analyze verify --recursive-errors=no ${checked}`.env(env).nothrow().quiet();
    expect(`${verify.stdout}${verify.stderr}`).toBe("");
    expect(verify.exitCode).toBe(0);
  });

  test("the extracted binaries run from any directory: --version, tacon, --check-config on every example", async () => {
    const bin = `${work}/root/usr/bin`;
    const version_ = await $`${bin}/tacacsrs-agentd --version`.cwd(tmpdir()).text();
    expect(version_).toContain(`tacacsrs-agentd ${version}`);
    expect(version_).toContain("features: tls, psk");
    expect(version_).toContain(`runtime: bun ${Bun.version}`);
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
    "dpkg: install creates the tacacs user, enable and upgrade keep the operator's choices, purge leaves nothing behind",
    async () => {
      const wants = "/etc/systemd/system/multi-user.target.wants/tacacsrs-agentd.service";
      try {
        const install = await $`dpkg -i ${deb}`.quiet();
        // Nothing surprising at install: dpkg's own lines only (no adduser warning).
        expect(`${install.stdout}${install.stderr}`.split("\n").filter((line) => line && !/^(Selecting|\(Reading|Preparing|Unpacking|Setting up|Processing)/.test(line))).toEqual([]);
        const installed = (await $`dpkg -L tacacsrs-agentd`.text()).trim().split("\n");
        expect(await $`getent group tacacs`.nothrow().text()).toStartWith("tacacs:");
        expect(await $`getent passwd tacacs`.nothrow().text()).toContain("/usr/sbin/nologin");
        expect(readFileSync("/usr/bin/tacon", "utf8").length).toBeGreaterThan(0);
        writeFileSync("/etc/default/tacacsrs-agentd", 'TACACSRS_AGENTD_ARGS="--server-addr 127.0.0.1:49"\n');
        expect(statSync("/etc/tacacs").gid).toBe(Number((await $`getent group tacacs`.text()).split(":")[2]));
        await $`systemctl enable tacacsrs-agentd.service`.quiet();
        expect(existsSync(wants)).toBe(true);
        await $`dpkg -i ${deb}`.quiet(); // the same version again: an upgrade run of every script
        expect(readFileSync("/etc/default/tacacsrs-agentd", "utf8")).toContain("127.0.0.1:49");
        expect(existsSync(wants)).toBe(true);
        await $`dpkg -r tacacsrs-agentd`.quiet();
        expect(existsSync("/usr/bin/tacacsrs-agentd")).toBe(false);
        expect(readFileSync("/etc/default/tacacsrs-agentd", "utf8")).toContain("127.0.0.1:49");
        await $`dpkg -P tacacsrs-agentd`.quiet();
        expect(existsSync("/etc/default/tacacsrs-agentd")).toBe(false);
        // No dangling enable link (deb-systemd-helper purge), no file or directory of the package.
        expect(lstatSync(wants, { throwIfNoEntry: false })).toBeUndefined();
        const left = installed.filter((path) => lstatSync(path, { throwIfNoEntry: false }) && (!statSync(path).isDirectory() || path.includes("tacacs")));
        expect(left).toEqual([]);
      } finally {
        await $`dpkg -P tacacsrs-agentd`.nothrow().quiet();
        rmSync(wants, { force: true });
      }
    },
    180_000,
  );
});
