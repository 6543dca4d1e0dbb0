/**
 * The password pam_exec(8) writes to our stdin with `expose_authtok`: Linux-PAM ≥ 1.3.2 writes
 * the token and closes the pipe (EOF), older releases add a NUL; a newline ends it too (a person
 * or script testing by hand). At most PAM_MAX_RESP_SIZE (512) bytes, like pam_exec's own buffer.
 * The bytes live in one buffer the caller wipes (`fill(0)`) after use; chunks are wiped as copied.
 * Never echoed, never logged.
 */
export const PAM_MAX_RESP_SIZE = 512;

export class AuthtokError extends Error {
  override readonly name = "AuthtokError";
}

/** Reads the token; the returned Buffer is a view of a buffer the caller must wipe. */
export async function readAuthtok(input: AsyncIterable<Uint8Array> = Bun.stdin.stream()): Promise<Buffer> {
  const buffer = Buffer.alloc(PAM_MAX_RESP_SIZE + 1);
  let length = 0;
  for await (const chunk of input) {
    const end = chunk.findIndex((byte) => byte === 0 || byte === 0x0a);
    const take = Math.min(end < 0 ? chunk.length : end, buffer.length - length);
    buffer.set(chunk.subarray(0, take), length);
    length += take;
    chunk.fill(0);
    if (length > PAM_MAX_RESP_SIZE) {
      buffer.fill(0);
      throw new AuthtokError(`the password on stdin is longer than ${PAM_MAX_RESP_SIZE} bytes`);
    }
    if (end >= 0) break;
  }
  if (length === 0) throw new AuthtokError('no password on stdin: pam_exec needs "expose_authtok" on the auth line');
  if (buffer[length - 1] === 0x0d) length--;
  return buffer.subarray(0, length);
}
