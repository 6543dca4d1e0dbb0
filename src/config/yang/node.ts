/**
 * Walking an RFC 7951 JSON document with its path, so every error and warning names the
 * exact node, e.g. `/ietf-system:system/ietf-system-tacacs-plus:tacacs-plus/server[name='x']/port`.
 */
import type * as v from "valibot";
import { fail } from "../errors";
import { checked } from "../values";

/** Our own module's prefix; children may repeat it (RFC 7951 §4 allows qualified names). */
const OWN_MODULE = "ietf-system-tacacs-plus:";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class YangObject {
  /** Members by unqualified name, with the name as written (for paths). */
  readonly #members = new Map<string, { written: string; value: unknown }>();

  /**
   * `known` lists the member names this object may have; any other member is reported once
   * as a warning, or ignored silently when named in `ignored` ("all": everything else
   * belongs to other software, as in ietf-system:system).
   */
  constructor(
    readonly path: string,
    value: unknown,
    known: readonly string[],
    readonly warnings: string[],
    ignored: readonly string[] | "all" = [],
  ) {
    if (!isObject(value)) fail(path, "expected a JSON object");
    for (const [rawName, member] of Object.entries(value)) {
      const name = rawName.startsWith(OWN_MODULE) ? rawName.slice(OWN_MODULE.length) : rawName;
      if (known.includes(name)) this.#members.set(name, { written: rawName, value: member });
      else if (ignored !== "all" && !ignored.includes(name)) warnings.push(`${path}/${rawName}: unknown node, ignored`);
    }
  }

  has(name: string): boolean {
    return this.#members.has(name);
  }

  /** The path of member `name` as written in the document. */
  pathOf(name: string): string {
    return `${this.path}/${this.#members.get(name)?.written ?? name}`;
  }

  /** A leaf, checked by `schema`; undefined when absent. */
  leaf<TSchema extends v.GenericSchema>(name: string, schema: TSchema): v.InferOutput<TSchema> | undefined {
    const member = this.#members.get(name);
    if (member === undefined) return undefined;
    return checked(schema, this.pathOf(name), member.value);
  }

  /** A leaf that must be present. */
  required<TSchema extends v.GenericSchema>(name: string, schema: TSchema): v.InferOutput<TSchema> {
    const value = this.leaf(name, schema);
    if (value === undefined) fail(this.pathOf(name), "missing (mandatory)");
    return value;
  }

  /** A child container; undefined when absent. */
  child(name: string, known: readonly string[], ignored: readonly string[] | "all" = []): YangObject | undefined {
    const member = this.#members.get(name);
    if (member === undefined) return undefined;
    return new YangObject(this.pathOf(name), member.value, known, this.warnings, ignored);
  }

  /** A list keyed by `key`; entries keep their order (ordered-by user) and keys are unique. */
  list(name: string, key: string, known: readonly string[], ignored: readonly string[] = []): YangObject[] {
    const entries = this.#members.get(name)?.value;
    if (entries === undefined) return [];
    const listPath = this.pathOf(name);
    if (!Array.isArray(entries)) fail(listPath, "expected a JSON array (a YANG list)");
    const seen = new Set<string>();
    return entries.map((entry, index) => {
      const keyValue = isObject(entry) ? entry[key] : undefined;
      if (typeof keyValue !== "string" || keyValue === "") fail(`${listPath}[${index + 1}]/${key}`, "missing list key (a non-empty string)");
      if (seen.has(keyValue)) fail(`${listPath}[${key}='${keyValue}']`, "duplicate list key");
      seen.add(keyValue);
      return new YangObject(`${listPath}[${key}='${keyValue}']`, entry, [key, ...known], this.warnings, ignored);
    });
  }

  /** Fails with `why` when the member `name` is present (for unsupported nodes). */
  refuse(name: string, why: string): void {
    if (this.#members.has(name)) fail(this.pathOf(name), why);
  }
}
