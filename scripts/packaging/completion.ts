/**
 * bash completion written from the citty definitions: every flag, the values of flags whose
 * hint lists them ("a|b|c"), file names for FILE and ENDPOINT values, and tacon's commands.
 * Installed as /usr/share/bash-completion/completions/<program> (Debian and RPM alike).
 */
import type { ArgsDef } from "citty";

interface Program {
  name: string;
  args: ArgsDef;
  /** Positional commands offered until one is given (tacon), with their operands ("a|b" are offered too). */
  commands?: readonly (readonly [name: string, operands: string])[];
}

function words(args: ArgsDef): string {
  return Object.entries(args)
    .flatMap(([name, def]) => [`--${name}`, ...("alias" in def && def.alias ? [def.alias].flat().map((short) => `-${short}`) : [])])
    .join(" ");
}

/** `case` arms for the flags that take a value: choices, file names, or nothing to offer. */
function valueArms(args: ArgsDef): string[] {
  const choices: string[] = [];
  const files: string[] = [];
  const free: string[] = [];
  for (const [name, def] of Object.entries(args)) {
    if (def.type !== "string") continue;
    const forms = [`--${name}`, ...("alias" in def && def.alias ? [def.alias].flat().map((short) => `-${short}`) : [])].join("|");
    const hint = "valueHint" in def ? (def.valueHint ?? "") : "";
    if (hint.includes("|")) choices.push(`        ${forms}) COMPREPLY=($(compgen -W "${hint.split("|").join(" ")}" -- "$cur")); return ;;`);
    else if (hint === "FILE" || hint === "ENDPOINT") files.push(forms);
    else free.push(forms);
  }
  return [
    ...choices,
    ...(files.length ? [`        ${files.join("|")}) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return ;;`] : []),
    ...(free.length ? [`        ${free.join("|")}) return ;;`] : []),
  ];
}

/** `case` arms offering a command's choice operands ("register|unregister") right after it. */
function operandArms(commands: Program["commands"] = []): string[] {
  return commands
    .filter(([, operands]) => /^[a-z-]+(\|[a-z-]+)+$/.test(operands))
    .map(([name, operands]) => `        ${name}) [[ $cur == -* ]] || { COMPREPLY=($(compgen -W "${operands.split("|").join(" ")}" -- "$cur")); return; } ;;`);
}

export function bashCompletion(program: Program): string {
  const fn = `_${program.name.replaceAll("-", "_")}`;
  const names = (program.commands ?? []).map(([name]) => name);
  const commandCheck = program.commands
    ? [
        `    local word`,
        `    for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do`,
        `        case $word in ${names.join("|")}) COMPREPLY=($(compgen -W "${words(program.args)}" -- "$cur")); return ;; esac`,
        `    done`,
        `    [[ $cur == -* ]] || { COMPREPLY=($(compgen -W "${names.join(" ")}" -- "$cur")); return; }`,
      ]
    : [];
  return [
    `# bash completion for ${program.name} (generated from its command-line definition by scripts/packaging/completion.ts)`,
    `${fn}() {`,
    `    local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}`,
    `    # --flag=value: complete the value as if it followed --flag ("=" may or may not split words).`,
    `    if [[ $cur == --*=* ]]; then prev=\${cur%%=*}; cur=\${cur#*=}`,
    `    elif [[ $prev == = && $COMP_CWORD -ge 2 ]]; then prev=\${COMP_WORDS[COMP_CWORD-2]}`,
    `    elif [[ $cur == = ]]; then cur=""; fi`,
    `    case $prev in`,
    ...valueArms(program.args),
    ...operandArms(program.commands),
    `    esac`,
    ...commandCheck,
    `    COMPREPLY=($(compgen -W "${words(program.args)}" -- "$cur"))`,
    `}`,
    `complete -F ${fn} ${program.name}`,
    "",
  ].join("\n");
}
