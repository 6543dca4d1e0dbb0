/**
 * Interop with GnuTLS, a non-OpenSSL TLS 1.3 PSK server. gnutls-serv has no bind-address option
 * and listens on every address, so it runs inside a private network (and PID) namespace together
 * with the client (test/support/psk-probe.ts); nothing is reachable from outside, and when the
 * client exits the namespace's init dies and the kernel kills gnutls-serv with it.
 * --map-root-user lets this run without root where unprivileged user namespaces are enabled.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { havePeer } from "../support/peer";

const KEY_HEX = "7d1f3a9c5e2b4d6f8091a2b3c4d5e6f7";
const IDENTITY = "host01@example.com";
/** Any port: the namespace is private. */
const PORT = 5556;
const PSK_ONLY = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+PSK";
const PSK_DHE = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK";
const PROBE = join(import.meta.dir, "../support/psk-probe.ts");

const available = havePeer("gnutls-serv") && havePeer("unshare");

interface ProbeResult {
  ok: boolean;
  received?: string;
  error?: string;
}

/** Runs gnutls-serv --echo and the probe in one private namespace; returns the probe's verdict. */
function probe(options: { priority: string; identity?: string; keyHex?: string; mode: "psk-dhe" | "psk-only"; groups?: string; messages: string[] }): ProbeResult {
  const dir = mkdtempSync(join(tmpdir(), "agentd-gnutls-"));
  try {
    writeFileSync(join(dir, "psk.txt"), `${IDENTITY}:${KEY_HEX}\n`, { mode: 0o600 });
    const script = [
      "ip link set lo up",
      `gnutls-serv --echo -p ${PORT} --pskpasswd "$1" --priority "$2" >"$3" 2>&1 &`,
      'shift 3; exec "$@"',
    ].join("\n");
    const run = Bun.spawnSync(
      [
        "unshare", "--map-root-user", "--net", "--pid", "--fork", "--kill-child", "sh", "-c", script, "sh",
        join(dir, "psk.txt"), options.priority, join(dir, "server.log"),
        process.execPath, PROBE, String(PORT), options.identity ?? IDENTITY, options.keyHex ?? KEY_HEX,
        options.mode, options.groups ?? "-", ...options.messages,
      ],
      { stdout: "pipe", stderr: "pipe", timeout: 8_000 },
    );
    const line = run.stdout.toString().trim().split("\n").at(-1) ?? "";
    if (!line.startsWith("{")) throw new Error(`probe failed (exit ${run.exitCode}): ${run.stderr.toString()}`);
    return JSON.parse(line) as ProbeResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!available)("gnutls-serv --pskpasswd (private network namespace)", () => {
  test("psk-only: several writes echo back, one over 16 KiB", () => {
    const big = `${"g".repeat(20_000)}\n`;
    const result = probe({ priority: PSK_ONLY, mode: "psk-only", messages: ["first\n", "second\n", big] });
    expect(result).toEqual({ ok: true, received: `first\nsecond\n${big}` });
  });

  test("psk-dhe (ECDHE-PSK) with secp384r1 and secp256r1", () => {
    const result = probe({ priority: PSK_DHE, mode: "psk-dhe", groups: "secp384r1,secp256r1", messages: ["dhe\n"] });
    expect(result).toEqual({ ok: true, received: "dhe\n" });
  });

  test("wrong key: the alert is named, the key is not", () => {
    const result = probe({ priority: PSK_ONLY, mode: "psk-only", keyHex: "00".repeat(16), messages: ["x\n"] });
    expect(result.ok).toBe(false);
    expect(result.error).toBe(`TLS PSK handshake with 127.0.0.1:${PORT} failed: server sent alert illegal_parameter (47): wrong PSK?`);
  });

  test("psk-dhe against a PSK-only server fails with handshake_failure", () => {
    const result = probe({ priority: PSK_ONLY, mode: "psk-dhe", groups: "secp384r1", messages: ["x\n"] });
    expect(result.error).toMatch(/server sent alert handshake_failure \(40\)/);
  });
});
