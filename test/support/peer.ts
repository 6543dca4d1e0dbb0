/**
 * Third-party interop peers (stunnel4, openssl, gnutls-serv, ...). Locally a missing peer skips its
 * tests with a visible note; in CI (CI=true) it throws, so the test file fails instead of skipping.
 */
export function havePeer(command: string): boolean {
  if (Bun.which(command)) return true;
  const message = `interop peer "${command}" is not installed`;
  if (process.env.CI === "true") throw new Error(`${message} (required in CI; see .ci/run)`);
  console.warn(`${message}: skipping its tests`);
  return false;
}
