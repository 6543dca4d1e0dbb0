/**
 * Reading the files the configuration names, with one clear line per failure.
 */
import { readFile, stat } from "node:fs/promises";
import { fail } from "./errors";

/** Larger inputs are refused: certificates, keys, secrets and YANG documents are small. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

const REASONS: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOTDIR: "a parent is not a directory",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "path too long",
};

function reason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return (typeof code === "string" && REASONS[code]) || "cannot be read";
}

export interface LoadedFile {
  bytes: Uint8Array;
  /** True when group or others may read the file. */
  shared: boolean;
}

/** Reads a regular file named by `subject` (e.g. "--client-key /etc/tacacs/key.pem"). */
export async function readInputFile(path: string, subject: string): Promise<LoadedFile> {
  if (path === "") fail(subject, "empty file name");
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    return fail(`${subject} ${path}`, reason(error));
  }
  if (!info.isFile()) fail(`${subject} ${path}`, "not a regular file");
  if (info.size > MAX_FILE_BYTES) fail(`${subject} ${path}`, `larger than ${MAX_FILE_BYTES} bytes`);
  try {
    return { bytes: new Uint8Array(await readFile(path)), shared: (info.mode & 0o044) !== 0 };
  } catch (error) {
    return fail(`${subject} ${path}`, reason(error));
  }
}

/** The warning for a secret-bearing file that group or others can read. */
export function sharedFileWarning(subject: string, path: string): string {
  return `${subject} ${path}: readable by group or others although it holds a secret or key; restrict it (chmod 600)`;
}
