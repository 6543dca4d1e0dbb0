/**
 * The metrics registry: named families whose values are read from the agent's plain numeric
 * state at scrape time. Registering is the only work done ahead; nothing here runs per request.
 *
 *   registry.counter("tacacsrs_config_reloads", "Configuration reloads by result", () => [...]);
 *   registry.gauge("tacacsrs_accounting_spool_records", "Records waiting in the spool", () => spool.depth);
 *
 * Counter names are given without `_total` (the renderer adds it, per format). Labels come from
 * configuration and fixed enums only, never from request content: cardinality stays bounded.
 */
import type { Histogram } from "../common/histogram";

export type Labels = Readonly<Record<string, string>>;
export interface Sample {
  labels: Labels;
  value: number;
}
export interface HistogramSample {
  labels: Labels;
  histogram: Histogram;
}

/** A base unit (Prometheus naming: seconds and bytes); it must end the family name. */
export type Unit = "seconds" | "bytes";

interface FamilyBase {
  name: string;
  help: string;
  unit?: Unit;
}
export type Family =
  | (FamilyBase & { type: "counter" | "gauge"; collect(): readonly Sample[] })
  | (FamilyBase & { type: "histogram"; collect(): readonly HistogramSample[] });

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** A collect() returning a number is one unlabelled sample. */
type Source = () => number | readonly Sample[];

function samples(source: Source): () => readonly Sample[] {
  return () => {
    const value = source();
    return typeof value === "number" ? [{ labels: {}, value }] : value;
  };
}

export class Registry {
  readonly #families: Family[] = [];
  readonly #names = new Set<string>();

  counter(name: string, help: string, source: Source, unit?: Unit): this {
    if (name.endsWith("_total")) throw new Error(`metric ${name}: give counter names without _total`);
    return this.#add({ type: "counter", name, help, collect: samples(source), ...(unit ? { unit } : {}) });
  }

  gauge(name: string, help: string, source: Source, unit?: Unit): this {
    return this.#add({ type: "gauge", name, help, collect: samples(source), ...(unit ? { unit } : {}) });
  }

  histogram(name: string, help: string, collect: () => readonly HistogramSample[], unit?: Unit): this {
    return this.#add({ type: "histogram", name, help, collect, ...(unit ? { unit } : {}) });
  }

  families(): readonly Family[] {
    return this.#families;
  }

  #add(family: Family): this {
    // Programming errors: caught by the unit tests, never by an operator.
    if (!NAME.test(family.name) || this.#names.has(family.name)) throw new Error(`metric ${family.name}: invalid or registered twice`);
    if (family.unit && !family.name.endsWith(`_${family.unit}`)) throw new Error(`metric ${family.name}: the name must end with _${family.unit}`);
    this.#names.add(family.name);
    this.#families.push(family);
    return this;
  }
}
