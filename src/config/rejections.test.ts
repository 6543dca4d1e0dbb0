/**
 * Every rejection of the command line: exit status 2 and ONE line on stderr that names the
 * flag or file and says what is wrong, never a stack trace.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { testPki, type Pki } from "../../test/support/pki";
import { run, scratch } from "./test-helpers";

const temp = scratch();

const SERVER = ["--server-addr", "127.0.0.1"];
const TLS = [...SERVER, "--use-tls"];
const PSK = [...TLS, "--psk-identity", "host01"];
const GOOD_PSK = "a-psk-of-at-least-16-octets";

let pki: Pki;
const files: Record<string, string> = {};

/** The test PKI takes a few seconds of openssl runs. */
const PKI_TIMEOUT_MS = 30_000;

beforeAll(async () => {
  pki = await testPki();
  const dir = temp.dir();
  files.p12 = join(dir, "client.p12");
  execFileSync("openssl", ["pkcs12", "-export", "-in", pki.clientEc.certPath, "-inkey", pki.clientEc.keyPath, "-out", files.p12, "-passout", "pass:x"]);
  files.encryptedKey = join(dir, "encrypted.key.pem");
  execFileSync("openssl", ["pkey", "-in", pki.clientEc.keyPath, "-aes256", "-passout", "pass:x", "-out", files.encryptedKey]);
  files.garbage = temp.file("garbage.bin", "this is neither PEM nor DER");
  files.emptySecret = temp.file("empty-secret", "\n");
  files.notJson = temp.file("not.json", "{ server: ");
  files.plainYang = temp.file("plain.json", JSON.stringify({ "ietf-system-tacacs-plus:tacacs-plus": { server: [{ name: "x", "server-type": "authentication", address: "127.0.0.1" }] } }));
  files.badPort = temp.file("bad-port.json", JSON.stringify({ "ietf-system-tacacs-plus:tacacs-plus": { server: [{ name: "x", "server-type": "authentication", address: "127.0.0.1", port: 70000 }] } }));
}, PKI_TIMEOUT_MS);

/** [argv, fragment of the one-line message, environment?] */
const REJECTIONS: [string, () => string[], string, Record<string, string>?][] = [
  ["no server", () => [], "--server-addr: no upstream server"],
  ["servers twice", () => [...SERVER, "--config", files.badPort!], "--config: give either --server-addr or --config, not both"],
  ["unknown long flag", () => [...SERVER, "--bogus"], "--bogus: unknown flag"],
  ["unknown short flag", () => [...SERVER, "-x"], "-x: unknown flag"],
  ["stray value", () => [...SERVER, "extra"], "argument 3 after --server-addr: unexpected value"],
  ["single flag twice", () => [...SERVER, "--socket-mode", "660", "--socket-mode", "600"], "--socket-mode: given more than once"],
  ["missing value", () => ["--server-addr"], "--server-addr: missing value"],
  ["value on a switch", () => [...SERVER, "--use-tls=yes"], "--use-tls: takes no value"],
  ["server address syntax", () => ["--server-addr", "bad host"], "--server-addr: \"bad host\": expected host[:port]"],
  ["server port 0", () => ["--server-addr", "127.0.0.1:0"], "--server-addr: port \"0\" is not a number 1..65535"],
  ["server port too big", () => ["--server-addr", "127.0.0.1:70000"], "is not a number 1..65535"],
  ["server port not a number", () => ["--server-addr", "host.example:tacacs"], "--server-addr: port \"tacacs\""],
  ["bracketed non-IPv6", () => ["--server-addr", "[host.example]:49"], "is not an IPv6 address"],
  ["bare bad IPv6", () => ["--server-addr", "1:2:3"], "is not an IPv6 address"],
  ["duplicate server", () => [...SERVER, "--server-addr", "127.0.0.1:49"], "--server-addr: 127.0.0.1:49 is given more than once"],
  ["relative socket path", () => [...SERVER, "--listen-endpoint", "tacacs.sock"], "--listen-endpoint: \"tacacs.sock\": expected an absolute Unix socket path"],
  ["non-loopback listen endpoint", () => [...SERVER, "--listen-endpoint", "10.0.0.1:9049"], "--listen-endpoint: \"10.0.0.1:9049\": 10.0.0.1 is not a loopback address"],
  ["non-loopback proxy endpoint", () => [...SERVER, "--proxy-endpoint", "0.0.0.0:9049"], "--proxy-endpoint: \"0.0.0.0:9049\": 0.0.0.0 is not a loopback address"],
  ["non-loopback IPv6 proxy endpoint", () => [...SERVER, "--proxy-endpoint", "[2001:db8::1]:9049"], "2001:db8::1 is not a loopback address"],
  ["TCP endpoint without port", () => [...SERVER, "--listen-endpoint", "[::1]"], "--listen-endpoint: \"[::1]\": a TCP endpoint needs a port"],
  ["socket path too long", () => [...SERVER, "--listen-endpoint", `/${"x".repeat(120)}`], "--listen-endpoint: Unix socket path longer than 107 bytes"],
  ["unknown service mode", () => [...SERVER, "--service-mode", "proxy"], "--service-mode: expected client-api, tacacs-proxy or both"],
  ["proxy mode without endpoint", () => [...SERVER, "--service-mode", "tacacs-proxy"], "--service-mode: tacacs-proxy requires --proxy-endpoint"],
  ["both without endpoint", () => [...SERVER, "--service-mode", "both"], "--service-mode: both requires --proxy-endpoint"],
  ["proxy endpoint in client-api mode", () => [...SERVER, "--service-mode", "client-api", "--proxy-endpoint", "127.0.0.1:9049"], "--proxy-endpoint: not used with --service-mode client-api"],
  ["identical endpoints", () => [...SERVER, "--listen-endpoint", "127.0.0.1:9049", "--proxy-endpoint", "127.0.0.1:9049"], "--proxy-endpoint: must differ from --listen-endpoint"],
  ["identical socket paths", () => [...SERVER, "--proxy-endpoint", "/run/tacacs/../tacacs/tacacs.sock"], "--proxy-endpoint: must differ from --listen-endpoint"],
  ["socket mode not octal", () => [...SERVER, "--socket-mode", "680"], "--socket-mode: expected octal permission bits"],
  ["socket mode too long", () => [...SERVER, "--socket-mode", "7777"], "--socket-mode: expected octal permission bits"],
  ["empty shared secret", () => [...SERVER, "-k", ""], "--shared-secret: empty value"],
  ["secret flag and file", () => [...SERVER, "-k", "abcdefghijklmnopq", "--shared-secret-file", files.emptySecret!], "--shared-secret: give either --shared-secret or --shared-secret-file, not both"],
  ["secret file missing", () => [...SERVER, "--shared-secret-file", "/nonexistent/secret"], "--shared-secret-file /nonexistent/secret: no such file"],
  ["secret file is a directory", () => [...SERVER, "--shared-secret-file", temp.dir()], ": not a regular file"],
  ["secret file empty", () => [...SERVER, "--shared-secret-file", files.emptySecret!], ": the file is empty"],
  ["secret env empty", () => SERVER, "TACACSRS_SHARED_SECRET: set but empty", { TACACSRS_SHARED_SECRET: "" }],
  ["empty proxy secret", () => [...SERVER, "--proxy-shared-secret", ""], "--proxy-shared-secret: empty value"],
  ["client certificate without TLS", () => [...SERVER, "--client-certificate", pki.clientEc.certPath, "--client-key", pki.clientEc.keyPath], "--client-certificate: requires --use-tls"],
  ["CA without TLS", () => [...SERVER, "--ca-certificate", pki.ca.certPath], "--ca-certificate: requires --use-tls"],
  ["insecure without TLS", () => [...SERVER, "--insecure-disable-certificate-verification"], "--insecure-disable-certificate-verification: requires --use-tls"],
  ["certificate without key", () => [...TLS, "--client-certificate", pki.clientEc.certPath], "--client-certificate: give --client-certificate and --client-key together"],
  ["key without certificate", () => [...TLS, "--client-key", pki.clientEc.keyPath], "--client-key: give --client-certificate and --client-key together"],
  ["PKCS#12 certificate", () => [...TLS, "--client-certificate", files.p12!, "--client-key", pki.clientEc.keyPath], "PKCS#12 (.pfx/.p12) bundle, which is not accepted; export PEM or DER"],
  ["PKCS#12 key", () => [...TLS, "--client-certificate", pki.clientEc.certPath, "--client-key", files.p12!], "PKCS#12 (.pfx/.p12) bundle"],
  ["garbage certificate", () => [...TLS, "--client-certificate", files.garbage!, "--client-key", pki.clientEc.keyPath], "neither a PEM nor a DER X.509 certificate"],
  ["garbage key", () => [...TLS, "--client-certificate", pki.clientEc.certPath, "--client-key", files.garbage!], "neither a PEM nor a DER (pkcs8, pkcs1, sec1) private key"],
  ["key given as certificate", () => [...TLS, "--client-certificate", pki.clientEc.keyPath, "--client-key", pki.clientEc.keyPath], "PEM without a CERTIFICATE block"],
  ["encrypted key", () => [...TLS, "--client-certificate", pki.clientEc.certPath, "--client-key", files.encryptedKey!], "the private key is encrypted"],
  ["key of another certificate", () => [...TLS, "--client-certificate", pki.clientEc.certPath, "--client-key", pki.clientRsa.keyPath], "does not match the client certificate"],
  ["garbage CA", () => [...TLS, "--ca-certificate", files.garbage!], "--ca-certificate"],
  ["bad server name", () => [...TLS, "--tls-server-name", "not a name"], "--tls-server-name: \"not a name\" is not a DNS host name"],
  ["PSK without TLS", () => [...SERVER, "--psk-identity", "host01", "--psk-key", GOOD_PSK], "--psk-identity: requires --use-tls"],
  ["PSK identity without key", () => PSK, "--psk-identity: requires --psk-key, --psk-key-file or TACACSRS_PSK_KEY"],
  ["PSK key without identity", () => [...TLS, "--psk-key", GOOD_PSK], "--psk-key: requires --psk-identity"],
  ["PSK key too short", () => [...PSK, "--psk-key", "short"], "--psk-key: PSK key is 5 octets; at least 16 are required"],
  ["PSK key bad hex", () => [...PSK, "--psk-key", "hex:zz"], "--psk-key: PSK key after 'hex:'"],
  ["PSK key bad base64", () => [...PSK, "--psk-key", "base64:***"], "--psk-key: PSK key after 'base64:' is not valid base64"],
  ["PSK env too short", () => PSK, "TACACSRS_PSK_KEY: PSK key is 3 octets", { TACACSRS_PSK_KEY: "abc" }],
  ["PSK key exchange unknown", () => [...PSK, "--psk-key", GOOD_PSK, "--psk-key-exchange", "psk-ecdhe"], "--psk-key-exchange: expected psk-dhe or psk-only"],
  ["PSK-only with groups", () => [...PSK, "--psk-key", GOOD_PSK, "--psk-key-exchange", "psk-only", "--psk-key-exchange-groups", "secp256r1"], "--psk-key-exchange-groups: cannot be combined with --psk-key-exchange psk-only"],
  ["unknown group", () => [...PSK, "--psk-key", GOOD_PSK, "--psk-key-exchange-groups", "secp384r1,x448"], "--psk-key-exchange-groups: expected a comma list of secp384r1, secp256r1, x25519"],
  ["group twice", () => [...PSK, "--psk-key", GOOD_PSK, "--psk-key-exchange-groups", "x25519,x25519"], "--psk-key-exchange-groups: a group is listed twice"],
  ["PSK with client certificate", () => [...PSK, "--psk-key", GOOD_PSK, "--client-certificate", pki.clientEc.certPath, "--client-key", pki.clientEc.keyPath], "--client-certificate: cannot be combined with a TLS PSK"],
  ["PSK with CA", () => [...PSK, "--psk-key", GOOD_PSK, "--ca-certificate", pki.ca.certPath], "--ca-certificate: cannot be combined with a TLS PSK"],
  ["key exchange without PSK", () => [...TLS, "--psk-key-exchange", "psk-only"], "--psk-key-exchange: requires --psk-identity and --psk-key"],
  ["connect timeout 0", () => [...SERVER, "--connect-timeout-seconds", "0"], "--connect-timeout-seconds: expected an integer 1..300"],
  ["connect timeout fraction", () => [...SERVER, "--connect-timeout-seconds", "1.5"], "--connect-timeout-seconds: expected an integer 1..300"],
  ["connect timeout words", () => [...SERVER, "--connect-timeout-seconds", "5s"], "--connect-timeout-seconds: expected an integer 1..300"],
  ["probe interval 0", () => [...SERVER, "--preferred-probe-interval-seconds", "0"], "--preferred-probe-interval-seconds: expected an integer 1..86400"],
  ["request timeout 0", () => [...SERVER, "--request-timeout-seconds", "0"], "--request-timeout-seconds: expected an integer 1..65535"],
  ["api streams 0", () => [...SERVER, "--max-api-streams", "0"], "--max-api-streams: expected an integer 1..100000"],
  ["api streams per peer beyond the global limit", () => [...SERVER, "--max-api-streams-per-peer", "1025"], "--max-api-streams-per-peer (at most --max-api-streams): expected an integer 1..1024"],
  ["api connections per peer 0", () => [...SERVER, "--max-api-connections", "10", "--max-api-connections-per-peer", "0"], "--max-api-connections-per-peer (at most --max-api-connections): expected an integer 1..10"],
  ["proxy connections negative", () => [...SERVER, "--max-proxy-connections", "-1"], "--max-proxy-connections: expected an integer 1..65535"],
  ["sessions in flight 0", () => [...SERVER, "--max-sessions-in-flight", "0"], "--max-sessions-in-flight: expected an integer 1..65535"],
  ["body bytes above the cap", () => [...SERVER, "--max-body-bytes", "196357"], "--max-body-bytes: expected an integer 1024..196356"],
  ["idle timeout 0", () => [...SERVER, "--proxy-idle-timeout-seconds", "0"], "--proxy-idle-timeout-seconds: expected an integer 1..86400"],
  ["shutdown grace huge", () => [...SERVER, "--shutdown-grace-seconds", "99999999999"], "--shutdown-grace-seconds: expected an integer 1..3600"],
  ["config with a security flag", () => ["--config", files.badPort!, "--use-tls"], "--use-tls: cannot be combined with --config"],
  ["config missing", () => ["--config", "/nonexistent/tacacs.json"], "--config /nonexistent/tacacs.json: no such file"],
  ["config not JSON", () => ["--config", files.notJson!], ": not valid JSON"],
  ["config type error", () => ["--config", files.badPort!], "/ietf-system-tacacs-plus:tacacs-plus/server[name='x']/port: expected an integer 0..65535"],
  ["config PSK flags without a PSK server", () => ["--config", files.plainYang!, "--psk-key-exchange", "psk-only"], "--psk-key-exchange: no server of --config uses a tls13-epsk client identity"],
];

describe("every bad input: exit 2, one clear line", () => {
  for (const [name, argv, fragment, env] of REJECTIONS) {
    test(name, async () => {
      const outcome = await run(argv(), env);
      if (outcome.kind !== "exit") throw new Error(`accepted: ${name}`);
      expect(outcome.code).toBe(2);
      expect(outcome.stdout).toBe("");
      expect(outcome.stderr).toStartWith("tacacsrs-agentd: ");
      expect(outcome.stderr).toContain(fragment);
      expect(outcome.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(outcome.stderr).not.toMatch(/\n\s+at /);
    });
  }
});
