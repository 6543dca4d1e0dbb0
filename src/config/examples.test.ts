/**
 * The shipped YANG examples (packaging/examples) load, and each loads into the same runtime
 * configuration as the equivalent command line: same --print-config JSON (apart from the
 * source) and the same secret bytes.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RuntimeConfig } from "./types";
import { config, run, scratch } from "./test-helpers";

const files = scratch();

const EXAMPLES = join(import.meta.dir, "../../packaging/examples");
const example = (name: string) => join(EXAMPLES, `${name}.json`);

/** The inline certificate and key of mtls.json, written out as DER files for the flags. */
let mtlsFiles: { certificate: string; key: string };

beforeAll(() => {
  const document = JSON.parse(readFileSync(example("mtls"), "utf8"));
  const credentials = document["ietf-system:system"]["ietf-system-tacacs-plus:tacacs-plus"]["client-credentials"][0].certificate["inline-definition"];
  mtlsFiles = {
    certificate: files.file("mtls-example.crt.der", Buffer.from(credentials["cert-data"], "base64")),
    key: files.file("mtls-example.key.der", Buffer.from(credentials["cleartext-private-key"], "base64")),
  };
});

const EQUIVALENT: Record<string, () => string[]> = {
  plain: () => ["--server-addr", "tacacs1.example.com:49", "--server-addr", "tacacs2.example.com:49", "--shared-secret", "replace-with-secret-from-secret-store"],
  tls: () => ["--server-addr", "tacacs1.example.com", "--server-addr", "tacacs2.example.com", "--use-tls"],
  mtls: () => ["--server-addr", "tacacs1.example.com", "--server-addr", "tacacs2.example.com", "--use-tls", "--client-certificate", mtlsFiles.certificate, "--client-key", mtlsFiles.key],
  psk: () => ["--server-addr", "legacy-tacacs.example.com", "--use-tls", "--psk-identity", "host01@example.com", "--psk-key", "replace-with-tls-psk-from-secret-store"],
  "fan-out": () => [
    ...["tacacs1.example.com:49", "tacacs2.example.com:49", "audit.example.com:49"].flatMap((server) => ["--server-addr", server]),
    "--shared-secret", "replace-with-secret-from-secret-store", "--accounting-fan-out", "tacacs1.example.com:49,audit.example.com:49",
  ],
};

async function printed(argv: string[]): Promise<Record<string, unknown>> {
  const outcome = await run([...argv, "--print-config"]);
  if (outcome.kind !== "exit" || outcome.code !== 0) throw new Error(`failed: ${outcome.kind === "exit" ? outcome.stderr : "no exit"}`);
  const { source: _source, ...rest } = JSON.parse(outcome.stdout);
  return rest;
}

/** Every secret of a config, revealed, in a stable order. */
function secrets(loaded: RuntimeConfig): string[] {
  return loaded.engine.servers.flatMap((server) => {
    const security = server.security;
    const revealed = [server.sharedSecret?.reveal(), security.kind === "psk" ? security.key.reveal() : security.kind === "tls" ? security.clientKeyPem?.reveal() : undefined];
    return revealed.map((bytes) => (bytes ? Buffer.from(bytes).toString("hex") : "-"));
  });
}

describe("shipped YANG examples", () => {
  for (const [name, flags] of Object.entries(EQUIVALENT)) {
    test(`${name}.json passes --check-config`, async () => {
      expect(await run(["--config", example(name), "--check-config"])).toMatchObject({ kind: "exit", code: 0, stdout: "configuration OK\n" });
    });

    test(`${name}.json equals its command line`, async () => {
      expect(await printed(["--config", example(name)])).toEqual(await printed(flags()));
      expect(secrets(await config(["--config", example(name)]))).toEqual(secrets(await config(flags())));
    });
  }
});
