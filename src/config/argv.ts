/**
 * A strict argv scanner driven by the citty definition: `--name value`, `--name=value`,
 * short aliases (`-k value`), counted `-vvvv`, repeats only where allowed, no positionals,
 * unknown flags rejected.
 */
import { ConfigError } from "./errors";
import { FLAGS, REPEATABLE, type FlagName } from "./definition";

export interface ScannedArgv {
  /** Every value given per string flag, in order. */
  values: Map<FlagName, string[]>;
  /** Boolean flags that were given. */
  switches: Set<FlagName>;
  /** How many times -v / --verbose was given. */
  verbosity: number;
}

const SHORT = new Map<string, FlagName>();
for (const [name, def] of Object.entries(FLAGS)) {
  if ("alias" in def) SHORT.set(def.alias, name as FlagName);
}

function isFlag(name: string): name is FlagName {
  return Object.hasOwn(FLAGS, name);
}

/** "--name" when `arg` is one of our flags (in any form), else undefined. */
function knownFlag(arg: string): string | undefined {
  const long = /^--([^=]+)/.exec(arg)?.[1];
  if (long !== undefined) return isFlag(long) ? `--${long}` : undefined;
  const short = SHORT.get(arg.slice(1));
  return arg.length === 2 && short ? `--${short}` : undefined;
}

export function scanArgv(argv: readonly string[]): ScannedArgv {
  const scanned: ScannedArgv = { values: new Map(), switches: new Set(), verbosity: 0 };
  const seen = new Set<FlagName>();

  const record = (name: FlagName, inlineValue: string | undefined, index: number): number => {
    if (seen.has(name) && !REPEATABLE.has(name)) throw new ConfigError(`--${name}: given more than once`);
    seen.add(name);
    if (FLAGS[name].type === "boolean") {
      if (inlineValue !== undefined) throw new ConfigError(`--${name}: takes no value`);
      if (name === "verbose") scanned.verbosity += 1;
      scanned.switches.add(name);
      return index;
    }
    let value = inlineValue;
    let next = index;
    if (value === undefined) {
      next = index + 1;
      value = argv[next];
      if (value === undefined) throw new ConfigError(`--${name}: missing value`);
    }
    const list = scanned.values.get(name) ?? [];
    list.push(value);
    scanned.values.set(name, list);
    return next;
  };

  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg.startsWith("--") && arg.length > 2) {
      const equals = arg.indexOf("=");
      const name = equals === -1 ? arg.slice(2) : arg.slice(2, equals);
      if (!isFlag(name)) throw new ConfigError(`--${name}: unknown flag (see --help)`);
      index = record(name, equals === -1 ? undefined : arg.slice(equals + 1), index);
    } else if (/^-v+$/.test(arg)) {
      for (let count = 1; count < arg.length; count++) record("verbose", undefined, index);
    } else if (arg.startsWith("-") && arg.length === 2 && SHORT.has(arg.slice(1))) {
      index = record(SHORT.get(arg.slice(1))!, undefined, index);
    } else if (arg.startsWith("-")) {
      throw new ConfigError(`${arg}: unknown flag (see --help)`);
    } else {
      // The value itself is not echoed: it may be a secret that lost its flag.
      const flag = argv.slice(0, index).map(knownFlag).findLast((name) => name !== undefined);
      const after = flag ? ` after ${flag}` : "";
      throw new ConfigError(`argument ${index + 1}${after}: unexpected value (every option is a --flag; see --help)`);
    }
  }
  return scanned;
}
