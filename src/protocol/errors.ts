/** The codec's only error type: every malformed input ends here, with a stable code. */

export type CodecErrorCode =
  | "truncated"
  | "bad-version"
  | "bad-type"
  | "bad-seq"
  | "bad-flags"
  | "too-large"
  | "length-mismatch"
  | "bad-field"
  | "missing-key";

/** Appended to length errors: a wrong shared secret de-obfuscates into bodies whose lengths do not add up. */
export const WRONG_SECRET_HINT = "(wrong shared secret?)";

export class CodecError extends Error {
  override readonly name = "CodecError";
  readonly code: CodecErrorCode;

  constructor(code: CodecErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
