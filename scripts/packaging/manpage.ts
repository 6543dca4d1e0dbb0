/**
 * Man pages written from the citty definitions that drive `--help` (src/config/definition.ts,
 * src/tacon/index.ts), so a flag cannot be in one and missing from the other.
 * Plain man(7) macros; checked with `groff -man -ww -z` in the packaging tests.
 */
import type { ArgDef, ArgsDef } from "citty";

export interface ManPage {
  name: string;
  section: 1 | 8;
  /** "2026-12-03": the release date, so the page is reproducible. */
  date: string;
  version: string;
  summary: string;
  synopsis: string[];
  description: string[];
  options: ArgsDef;
  sections: { title: string; paragraphs?: string[]; items?: readonly (readonly [string, string])[] }[];
}

/** Text for roff: backslashes doubled, a leading dot or quote neutralised, dashes of options as minus signs. */
export function roffText(text: string): string {
  return text
    .replaceAll("\\", "\\e")
    .replace(/(^|[\s(=,[|])(--?)(?=[a-zA-Z])/g, (_, before: string, dashes: string) => `${before}${dashes.replaceAll("-", "\\-")}`)
    .replace(/^([.'])/gm, "\\&$1");
}

/** "--psk-key-exchange" written as roff (bold name, minus signs). */
function optionName(name: string): string {
  return `\\fB\\-\\-${name.replaceAll("-", "\\-")}\\fR`;
}

function optionHead(name: string, def: ArgDef): string {
  const alias = "alias" in def && def.alias ? [def.alias].flat().map((short) => `\\fB\\-${short}\\fR, `).join("") : "";
  const value = def.type === "string" ? ` \\fI${roffText("valueHint" in def && def.valueHint ? def.valueHint : "VALUE")}\\fR` : "";
  return `${alias}${optionName(name)}${value}`;
}

function optionBody(def: ArgDef): string {
  const description = roffText(def.description ?? "");
  const fallback = "default" in def && def.default !== undefined && def.default !== "" ? ` Default: \\fB${roffText(String(def.default))}\\fR.` : "";
  return `${description}${description.endsWith(".") ? "" : "."}${fallback}`;
}

export function renderManPage(page: ManPage): string {
  const lines = [
    `.TH ${page.name.toUpperCase()} ${page.section} "${page.date}" "${page.name} ${page.version}" "${page.section === 8 ? "System Administration" : "User Commands"}"`,
    // No hyphenation and a ragged right margin: option names must stay whole.
    ".nh",
    ".ad l",
    ".SH NAME",
    `${page.name} \\- ${roffText(page.summary)}`,
    ".SH SYNOPSIS",
    ...page.synopsis.flatMap((line) => [".B " + page.name, roffText(line), ".br"]),
    ".SH DESCRIPTION",
    ...page.description.flatMap((paragraph, index) => [...(index > 0 ? [".PP"] : []), roffText(paragraph)]),
    ".SH OPTIONS",
    ...Object.entries(page.options).flatMap(([name, def]) => [".TP", optionHead(name, def), optionBody(def)]),
  ];
  for (const section of page.sections) {
    lines.push(`.SH ${section.title.toUpperCase()}`);
    for (const [index, paragraph] of (section.paragraphs ?? []).entries()) lines.push(...(index > 0 ? [".PP"] : []), roffText(paragraph));
    for (const [term, text] of section.items ?? []) lines.push(".TP", `\\fB${roffText(term)}\\fR`, roffText(text));
  }
  return `${lines.join("\n")}\n`;
}
