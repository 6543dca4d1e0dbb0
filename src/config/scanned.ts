/**
 * Typed access to scanned flags: one value, all values, presence.
 */
import type { ScannedArgv } from "./argv";
import { FLAGS, type FlagName } from "./definition";

export class Flags {
  constructor(readonly scanned: ScannedArgv) {}

  /** The value given for a single-valued flag, if any. */
  given(name: FlagName): string | undefined {
    return this.scanned.values.get(name)?.[0];
  }

  /** The value given, else the default of the definition. */
  value(name: FlagName): string {
    const definition = FLAGS[name] as { default?: string };
    const value = this.given(name) ?? definition.default;
    if (value === undefined) throw new Error(`--${name} has no default`);
    return value;
  }

  all(name: FlagName): string[] {
    return this.scanned.values.get(name) ?? [];
  }

  on(name: FlagName): boolean {
    return this.scanned.switches.has(name);
  }

  has(name: FlagName): boolean {
    return this.on(name) || this.scanned.values.has(name);
  }
}
