/**
 * Secrets from a flag, a file, a systemd credential or the environment, so they never need to
 * appear in argv. Flag or file win over a credential, a credential over the environment; flag
 * and file together are an error.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
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

/** A secret file's text, without one final newline; `subject` names its source in messages. */
async function readSecretFile(path: string, subject: string, warnings: string[]): Promise<SecretText> {
  const file = await readInputFile(path, subject);
  if (file.shared) warnings.push(sharedFileWarning(subject, path));
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(file.bytes);
  } catch {
    return fail(`${subject} ${path}`, "not UTF-8 text");
  }
  text = stripFinalNewline(text);
  if (text === "") fail(`${subject} ${path}`, "the file is empty");
  return { text, origin: `${subject} ${path}` };
}

/**
 * The systemd credential named like the flag (LoadCredential=shared-secret:/etc/tacacs/secret),
 * from $CREDENTIALS_DIRECTORY (systemd.exec(5) "Credentials"), if systemd passed it.
 */
function credentialPath(input: SecretInput): string | undefined {
  const dir = input.env.CREDENTIALS_DIRECTORY;
  if (!dir) return undefined;
  const path = join(dir, input.flag);
  return existsSync(path) ? path : undefined;
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
  if (input.fileValue !== undefined) return readSecretFile(input.fileValue, `--${fileFlag}`, warnings);
  const credential = credentialPath(input);
  if (credential !== undefined) return readSecretFile(credential, `credential ${flag}`, warnings);
  const fromEnv = input.env[envName];
  if (fromEnv === undefined) return undefined;
  if (fromEnv === "") fail(envName, "set but empty");
  return { text: fromEnv, origin: envName };
}
