/** Test helper: the CodecError code a call throws ("none" if it returns); anything else is rethrown. */
import { CodecError, type CodecErrorCode } from "../../src/protocol";

export function codecErrorCode(fn: () => unknown): CodecErrorCode | "none" {
  try {
    fn();
    return "none";
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    return e.code;
  }
}
