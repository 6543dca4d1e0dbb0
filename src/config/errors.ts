/**
 * The one error type of the configuration layer: a single operator-readable line that names
 * the flag, file or JSON path and what is wrong. It never carries a secret value.
 */
import { errorMessage } from "../common/error-message";
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Throws a ConfigError for `subject` ("--flag", a file path or a JSON path). */
export function fail(subject: string, problem: string): never {
  throw new ConfigError(`${subject}: ${problem}`);
}

/** Runs `parse`; what it throws becomes a ConfigError about `subject` (its messages name no secret). */
export function parsedOr<T>(subject: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    return fail(subject, errorMessage(error));
  }
}
