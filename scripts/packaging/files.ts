/**
 * What the packages install: one table for the .deb and the .rpm. Adding a file is one line.
 *
 * `source` is relative to the repository root. `{bin}` is the (absolute) directory of the target's built
 * binary; a source ending in "/" is a directory tree copied whole (files keep `mode`).
 * `destination` is the installed path. Per-format places are named, not hard-coded:
 * `{unitdir}` (systemd units), `{default}` (the environment-file directory: /etc/default on
 * Debian, /etc/sysconfig on RPM), `{doc}` (/usr/share/doc/<package>), `{licenses}` (RPM's
 * /usr/share/licenses/<package>), `{name}` (the package: tacacsrs-agentd or
 * tacacsrs-agentd-baseline), `{generated}` (the documents scripts/packaging/generate.ts made).
 * A destination ending in ".gz" whose source does not is gzip-compressed while staging
 * (reproducibly: no name, no time stamp).
 */
export type PackageFormat = "deb" | "rpm";

export type PackageEntry =
  | {
      source: string;
      destination: string;
      mode: number;
      /** Edited by the operator: a Debian conffile, an RPM %config(noreplace). */
      config?: true;
      only?: PackageFormat;
    }
  | { link: string; destination: string; only?: PackageFormat }
  | { directory: true; destination: string; mode: number; group?: string; only?: PackageFormat };

export const PACKAGE_ENTRIES: readonly PackageEntry[] = [
  { source: "{bin}/tacacsrs-agentd", destination: "/usr/bin/tacacsrs-agentd", mode: 0o755 },
  { link: "tacacsrs-agentd", destination: "/usr/bin/tacon" },
  { link: "tacacsrs-agentd", destination: "/usr/bin/tacacsrs-audit-plugin" },
  { link: "tacacsrs-agentd", destination: "/usr/bin/tacacs-session" },
  { source: "packaging/audit/tacacsrs-agentd.conf", destination: "/etc/audit/plugins.d/tacacsrs-agentd.conf", mode: 0o640, config: true },
  { source: "packaging/audit/tacacsrs-agentd.rules", destination: "/etc/audit/rules.d/tacacsrs-agentd.rules", mode: 0o640, config: true },
  { source: "packaging/systemd/tacacsrs-agentd.service", destination: "{unitdir}/tacacsrs-agentd.service", mode: 0o644 },
  { source: "packaging/env/tacacsrs-agentd", destination: "{default}/tacacsrs-agentd", mode: 0o640, config: true },
  { directory: true, destination: "/etc/tacacs", mode: 0o750, group: "tacacs" },
  { source: "packaging/sysusers.d/tacacsrs-agentd.conf", destination: "/usr/lib/sysusers.d/tacacsrs-agentd.conf", mode: 0o644, only: "rpm" },
  { source: "{generated}/tacacsrs-agentd.8", destination: "/usr/share/man/man8/tacacsrs-agentd.8.gz", mode: 0o644 },
  { source: "{generated}/tacon.1", destination: "/usr/share/man/man1/tacon.1.gz", mode: 0o644 },
  { source: "{generated}/tacacsrs-audit-plugin.8", destination: "/usr/share/man/man8/tacacsrs-audit-plugin.8.gz", mode: 0o644 },
  { source: "{generated}/tacacs-session.8", destination: "/usr/share/man/man8/tacacs-session.8.gz", mode: 0o644 },
  { source: "{generated}/tacacsrs-agentd.bash", destination: "/usr/share/bash-completion/completions/tacacsrs-agentd", mode: 0o644 },
  { source: "{generated}/tacon.bash", destination: "/usr/share/bash-completion/completions/tacon", mode: 0o644 },
  { source: "README.md", destination: "{doc}/README.md.gz", mode: 0o644 },
  { source: "packaging/examples/", destination: "{doc}/examples/", mode: 0o644 },
  { source: "packaging/prometheus/", destination: "{doc}/prometheus/", mode: 0o644 },
  { source: "packaging/deb/README.Debian", destination: "{doc}/README.Debian", mode: 0o644, only: "deb" },
  { source: "{generated}/changelog.Debian", destination: "{doc}/changelog.gz", mode: 0o644, only: "deb" },
  { source: "{generated}/copyright", destination: "{doc}/copyright", mode: 0o644, only: "deb" },
  { source: "packaging/deb/lintian-overrides", destination: "/usr/share/lintian/overrides/{name}", mode: 0o644, only: "deb" },
  { source: "{generated}/copyright", destination: "{licenses}/copyright", mode: 0o644, only: "rpm" },
  { source: "LICENSE", destination: "{licenses}/LICENSE", mode: 0o644, only: "rpm" },
];

/** The per-format places `{name}` in a destination stands for (`{name}` itself is the package name). */
export const LAYOUTS: Record<PackageFormat, Record<string, string>> = {
  deb: { unitdir: "/lib/systemd/system", default: "/etc/default", doc: "/usr/share/doc/{name}" },
  rpm: { unitdir: "/usr/lib/systemd/system", default: "/etc/sysconfig", doc: "/usr/share/doc/{name}", licenses: "/usr/share/licenses/{name}" },
};

/** Replaces every `{name}` in `template` from `values` (values may hold placeholders too); an unknown name is a build error. */
export function expand(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`packaging/files: unknown placeholder {${name}} in "${template}"`);
    return expand(value, values);
  });
}
