/**
 * Renders the registry at scrape time, in the Prometheus text format 0.0.4 or OpenMetrics 1.0
 * (https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md).
 * The differences handled here: OpenMetrics counters are named without `_total` in # TYPE and
 * carry it on the sample, # UNIT lines, and the closing `# EOF`.
 */
import type { Family, Labels } from "./registry";

export type ExpositionFormat = "prometheus" | "openmetrics";

export const CONTENT_TYPE: Record<ExpositionFormat, string> = {
  prometheus: "text/plain; version=0.0.4; charset=utf-8",
  openmetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

/** Picks the format from an Accept header: OpenMetrics only when the scraper asks for it. */
export function formatFor(accept: string | undefined): ExpositionFormat {
  return accept !== undefined && accept.includes("application/openmetrics-text") ? "openmetrics" : "prometheus";
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(value)}"`);
  if (extra) pairs.push(`${extra[0]}="${extra[1]}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

function renderFamily(family: Family, format: ExpositionFormat, out: string[]): void {
  const om = format === "openmetrics";
  const typeName = family.type === "counter" && !om ? `${family.name}_total` : family.name;
  out.push(`# HELP ${typeName} ${escapeHelp(family.help)}`, `# TYPE ${typeName} ${family.type}`);
  if (om && family.unit) out.push(`# UNIT ${family.name} ${family.unit}`);
  if (family.type !== "histogram") {
    const sampleName = family.type === "counter" ? `${family.name}_total` : family.name;
    for (const sample of family.collect()) out.push(`${sampleName}${labelText(sample.labels)} ${number(sample.value)}`);
    return;
  }
  for (const { labels, histogram } of family.collect()) {
    let cumulative = 0;
    histogram.bounds.forEach((bound, i) => {
      cumulative += histogram.counts[i]!;
      out.push(`${family.name}_bucket${labelText(labels, ["le", number(bound)])} ${cumulative}`);
    });
    out.push(`${family.name}_bucket${labelText(labels, ["le", "+Inf"])} ${histogram.count}`);
    out.push(`${family.name}_sum${labelText(labels)} ${number(histogram.sum)}`, `${family.name}_count${labelText(labels)} ${histogram.count}`);
  }
}

export function renderMetrics(families: readonly Family[], format: ExpositionFormat): string {
  const out: string[] = [];
  for (const family of families) renderFamily(family, format, out);
  if (format === "openmetrics") out.push("# EOF");
  return `${out.join("\n")}\n`;
}
