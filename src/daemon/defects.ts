/**
 * A defect must not print a raw stack to operators: log one line (the stack only at -vvvv), then
 * keep serving after a stray promise rejection, or exit after an exception (state may be broken;
 * systemd's Restart=on-failure brings the daemon back).
 */
import type { Logger } from "../common/log";
import { errorMessage } from "../common/error-message";

export const INTERNAL_ERROR_EXIT = 70;

export function guardAgainstDefects(log: Logger): void {
  process.on("unhandledRejection", (error) => {
    log.error(`internal error (ignored): ${errorMessage(error)}`);
    if (error instanceof Error && error.stack) log.trace(error.stack);
  });
  process.on("uncaughtException", (error) => {
    log.error(`internal error, exiting: ${errorMessage(error)}`);
    if (error.stack) log.trace(error.stack);
    process.exit(INTERNAL_ERROR_EXIT);
  });
}
