/**
 * IP literal checks for the config edge, with node:net loaded on first use: importing it costs a
 * start ~8 ms (`tacon pam` starts once per PAM phase), and a Unix socket endpoint needs no check.
 */

/** 4 or 6 for an IPv4 or IPv6 literal, else 0 (node:net's isIP). */
export function ipFamily(text: string): number {
  return process.getBuiltinModule("node:net").isIP(text);
}

/** True for IP literals in 127.0.0.0/8, ::1 and ::ffff:127.x.y.z. Host names are not accepted. */
export function isLoopbackAddress(host: string): boolean {
  const family = ipFamily(host);
  if (family === 4) return host.startsWith("127.");
  if (family === 6) {
    const lower = host.toLowerCase();
    if (lower === "::1" || /^(0{1,4}:){7}0{0,3}1$/.test(lower)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    return mapped !== null && mapped[1]!.startsWith("127.");
  }
  return false;
}
