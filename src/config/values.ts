/**
 * valibot schemas for every scalar the configuration accepts, and one helper that turns the
 * first issue into a ConfigError naming the flag or JSON path.
 */
import * as v from "valibot";
import { fail } from "./errors";
import type { TlsGroup } from "../transport/types";

/** Parses `input` with `schema`; on failure throws "<subject>: <issue message>". */
export function checked<TSchema extends v.GenericSchema>(schema: TSchema, subject: string, input: unknown): v.InferOutput<TSchema> {
  const result = v.safeParse(schema, input);
  if (result.success) return result.output;
  return fail(subject, result.issues[0].message);
}

/** A decimal integer in [min, max], written as digits (flags) or a JSON number or digit string (YANG). */
export function boundedInteger(min: number, max: number) {
  const message = `expected an integer ${min}..${max}`;
  return v.pipe(
    v.union([v.pipe(v.string(message), v.regex(/^\d{1,10}$/, message), v.transform(Number)), v.number(message)], message),
    v.integer(message),
    v.minValue(min, message),
    v.maxValue(max, message),
  );
}

/** Seconds given on the command line or in YANG, as milliseconds. */
export function seconds(min: number, max: number) {
  return v.pipe(boundedInteger(min, max), v.transform((value) => value * 1000));
}

/** Unix permission bits in octal, e.g. 660 or 0660. */
export const socketMode = v.pipe(
  v.string(),
  v.regex(/^0?[0-7]{3}$/, "expected octal permission bits such as 660"),
  v.transform((text) => Number.parseInt(text, 8)),
);

export const serviceMode = v.picklist(["client-api", "tacacs-proxy", "both"], "expected client-api, tacacs-proxy or both");

export const logFormat = v.picklist(["text", "json"], "expected text or json");

export const pskKeyExchange = v.picklist(["psk-dhe", "psk-only"], "expected psk-dhe or psk-only");

const GROUPS: readonly TlsGroup[] = ["secp384r1", "secp256r1", "x25519"];

/** A comma list of key-share groups, no duplicates, in preference order. */
export const groupList = v.pipe(
  v.string(),
  v.transform((text) => text.split(",").map((group) => group.trim())),
  v.check((groups) => groups.every((group) => (GROUPS as string[]).includes(group)), `expected a comma list of ${GROUPS.join(", ")}`),
  v.check((groups) => new Set(groups).size === groups.length, "a group is listed twice"),
  v.transform((groups) => groups as TlsGroup[]),
);

/** YANG boolean: JSON true/false, also written as a string. */
export const yangBoolean = v.pipe(
  v.union([v.boolean(), v.picklist(["true", "false"])], "expected true or false"),
  v.transform((value) => value === true || value === "true"),
);

/** A YANG string leaf with at least one character. */
export const yangText = v.pipe(v.string("expected a string"), v.minLength(1, "expected a non-empty string"));

/** YANG binary (RFC 7951 §6.6): base64. */
export const yangBase64 = v.pipe(
  yangText,
  v.regex(/^[A-Za-z0-9+/\s]*={0,2}\s*$/, "expected base64"),
  v.transform((text) => new Uint8Array(Buffer.from(text, "base64"))),
  v.check((bytes) => bytes.length > 0, "expected base64 data"),
);
