/**
 * The benchmark report: one table row and one JSON line per measurement, and the targets of
 * issue 9 stated as measured / target, each computed from figures of the same run.
 */
import { formatNumber, round } from "./stats";

export interface Row {
  scenario: number;
  name: string;
  /** Figures by name; units are in the names (rps, Us, Ms, Mb, pct). */
  figures: Record<string, number | string | boolean>;
}

export interface Target {
  name: string;
  measured: number;
  target: number;
  /** "min": measured must be ≥ target; "max": ≤ target; "exact": equal. */
  kind: "min" | "max" | "exact";
  unit: string;
  met: boolean;
}

function describe(figures: Row["figures"]): string {
  return Object.entries(figures)
    .map(([name, value]) => `${name}=${typeof value === "number" ? formatNumber(value) : String(value)}`)
    .join("  ");
}

export class Report {
  readonly rows: Row[] = [];
  readonly targets: Target[] = [];
  readonly notes: string[] = [];

  constructor(private readonly print: (line: string) => void = (line) => console.log(line)) {}

  row(scenario: number, name: string, figures: Row["figures"]): void {
    const row = { scenario, name, figures };
    this.rows.push(row);
    this.print(`| ${scenario} | ${name.padEnd(44)} | ${describe(figures)}`);
    this.print(JSON.stringify({ bench: "tacacsrs-agentd", ...row }));
  }

  target(name: string, measured: number, kind: Target["kind"], target: number, unit: string): void {
    const met = Number.isFinite(measured) && (kind === "min" ? measured >= target : kind === "max" ? measured <= target : measured === target);
    this.targets.push({ name, measured: round(measured, 2), target, kind, unit, met });
  }

  note(text: string): void {
    this.notes.push(text);
    this.print(`  note: ${text}`);
  }

  /** The targets as a table and one JSON line. */
  summary(): void {
    this.print("\nTargets (measured / target):");
    for (const t of this.targets) {
      const sign = t.kind === "min" ? "≥" : t.kind === "max" ? "≤" : "=";
      this.print(`  ${t.met ? "MET   " : "MISSED"} ${t.name}: ${formatNumber(t.measured)} / ${sign} ${formatNumber(t.target)} ${t.unit}`);
    }
    this.print(JSON.stringify({ bench: "tacacsrs-agentd", targets: this.targets }));
  }
}
