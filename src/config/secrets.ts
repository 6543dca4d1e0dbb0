/**
 * Secrets from a flag, a file or the environment, so they never need to appear in argv.
 * Flag or file win over the environment; flag and file together are an error.
 */
import { fail } from "./errors";
import { readInputFile, sharedFileWarning } from "./files";

export interface SecretInput {
  /** Flag names without dashes, e.g. "shared-secret" and "shared-secret-file". */
  flag: string;
  fileFlag: string;
  envName: string;
  flagValue: string | undefined;
  fileValue: string | undefined;
  env: Record<string, string | undefined>;
}

export interface SecretText {
  text: string;
  /** Where it came from, for messages: "--shared-secret", "--shared-secret-file /x", "TACACSRS_...". */
  origin: string;
}

/** One trailing line break is not part of a secret written with an editor or `echo`. */
function stripFinalNewline(text: string): string {
  return text.replace(/\r?\n$/, "");
}

export async function resolveSecretText(input: SecretInput, warnings: string[]): Promise<SecretText | undefined> {
  const { flag, fileFlag, envName } = input;
  if (input.flagValue !== undefined && input.fileValue !== undefined) {
    fail(`--${flag}`, `give either --${flag} or --${fileFlag}, not both`);
  }
  if (input.flagValue !== undefined) {
    if (input.flagValue === "") fail(`--${flag}`, "empty value");
    return { text: input.flagValue, origin: `--${flag}` };
  }
  if (input.fileValue !== undefined) {
    const subject = `--${fileFlag}`;
    const file = await readInputFile(input.fileValue, subject);
    if (file.shared) warnings.push(sharedFileWarning(subject, input.fileValue));
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(file.bytes);
    } catch {
      return fail(`${subject} ${input.fileValue}`, "not UTF-8 text");
    }
    text = stripFinalNewline(text);
    if (text === "") fail(`${subject} ${input.fileValue}`, "the file is empty");
    return { text, origin: `${subject} ${input.fileValue}` };
  }
  const fromEnv = input.env[envName];
  if (fromEnv === undefined) return undefined;
  if (fromEnv === "") fail(envName, "set but empty");
  return { text: fromEnv, origin: envName };
}
