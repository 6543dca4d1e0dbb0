/**
 * What the packages install: one table for the .deb and the .rpm. Adding a file is one line.
 *
 * `source` is relative to the repository root. `{bin}` is the (absolute) directory of the target's built
 * binary; a source ending in "/" is a directory tree copied whole (files keep `mode`).
 * `destination` is the installed path. Per-format places are named, not hard-coded:
 * `{unitdir}` (systemd units), `{default}` (the environment-file directory: /etc/default on
 * Debian, /etc/sysconfig on RPM), `{doc}` (/usr/share/doc/tacacsrs-agentd).
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
  { source: "packaging/audit/tacacsrs-agentd.conf", destination: "/etc/audit/plugins.d/tacacsrs-agentd.conf", mode: 0o640, config: true },
  { source: "packaging/audit/tacacsrs-agentd.rules", destination: "/etc/audit/rules.d/tacacsrs-agentd.rules", mode: 0o640, config: true },
  { source: "packaging/systemd/tacacsrs-agentd.service", destination: "{unitdir}/tacacsrs-agentd.service", mode: 0o644 },
  { source: "packaging/env/tacacsrs-agentd", destination: "{default}/tacacsrs-agentd", mode: 0o640, config: true },
  { source: "README.md", destination: "{doc}/README.md", mode: 0o644 },
  { source: "packaging/examples/", destination: "{doc}/examples/", mode: 0o644 },
  { source: "LICENSE", destination: "{doc}/copyright", mode: 0o644, only: "deb" },
  { source: "LICENSE", destination: "/usr/share/licenses/tacacsrs-agentd/LICENSE", mode: 0o644, only: "rpm" },
];

/** The per-format places `{name}` in a destination stands for. */
export const LAYOUTS: Record<PackageFormat, Record<string, string>> = {
  deb: { unitdir: "/lib/systemd/system", default: "/etc/default", doc: "/usr/share/doc/tacacsrs-agentd" },
  rpm: { unitdir: "/usr/lib/systemd/system", default: "/etc/sysconfig", doc: "/usr/share/doc/tacacsrs-agentd" },
};

/** Replaces every `{name}` in `template` from `values`; an unknown name is a build error. */
export function expand(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`packaging/files: unknown placeholder {${name}} in "${template}"`);
    return value;
  });
}
