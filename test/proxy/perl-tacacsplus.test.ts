/**
 * A third-party legacy client through the proxy: Perl Authen::TacacsPlus (Debian
 * libauthen-tacacsplus-perl, its own C TACACS+ implementation). PAP and ASCII login, pass and
 * fail, over each upstream in UPSTREAMS (plain TCP, and stunnel TLS 1.3 in front of the test server).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { havePeer } from "../support/peer";
import { LAB_KEY, plainUpstream, startProxyStack, stunnelTlsUpstream, type ProxyStack, type Upstream } from "../support/proxy-stack";

const UPSTREAMS: [string, () => Upstream][] = [
  ["plain TCP upstream", () => plainUpstream()],
  ...(havePeer("stunnel4") ? [["stunnel TLS 1.3 upstream", stunnelTlsUpstream] as [string, () => Upstream]] : []),
];

/** One login per process, as a PAM-style consumer does: prints "pass" or "fail <errmsg>". */
const SCRIPT = `
use strict; use Authen::TacacsPlus;
my ($port, $key, $type, $user, $pass) = @ARGV;
my $tac = Authen::TacacsPlus->new(Host => '127.0.0.1', Key => $key, Port => $port, Timeout => 5);
unless ($tac) { print "connect-error ", Authen::TacacsPlus::errmsg(), "\\n"; exit 2; }
my $t = $type eq 'pap' ? &Authen::TacacsPlus::TAC_PLUS_AUTHEN_TYPE_PAP : &Authen::TacacsPlus::TAC_PLUS_AUTHEN_TYPE_ASCII;
my $ok = $tac->authen($user, $pass, $t);
print(($ok ? "pass" : "fail ") . ($ok ? "" : Authen::TacacsPlus::errmsg()) . "\\n");
$tac->close();
`;

/** Locally a missing module skips with a note; in CI it is a failure (see .ci/run). */
function havePerlModule(): boolean {
  const probe = Bun.spawnSync(["perl", "-MAuthen::TacacsPlus", "-e", "1"], { stderr: "ignore" });
  if (probe.exitCode === 0) return true;
  const message = "Perl Authen::TacacsPlus (libauthen-tacacsplus-perl) is not installed";
  if (process.env.CI === "true") throw new Error(`${message} (required in CI)`);
  console.warn(`${message}: skipping its tests`);
  return false;
}

/** Runs the script without blocking the event loop (the proxy runs in this process). */
async function perlLogin(port: number, type: "pap" | "ascii", user: string, password: string, key = LAB_KEY): Promise<string> {
  const child = Bun.spawn(["perl", "-e", SCRIPT, String(port), key, type, user, password], { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => child.kill(), 8000);
  try {
    await child.exited;
    return (await new Response(child.stdout).text()).trim();
  } finally {
    clearTimeout(timer);
  }
}

describe.skipIf(!havePerlModule()).each(UPSTREAMS)("Authen::TacacsPlus, %s", (_, makeUpstream) => {
  let stack: ProxyStack;
  let port: number;

  beforeAll(async () => {
    stack = await startProxyStack({ upstream: makeUpstream() });
    if (stack.proxy.endpoint.kind !== "tcp") throw new Error("expected a TCP proxy endpoint");
    port = stack.proxy.endpoint.port;
  });
  afterAll(() => stack?.stop());

  test.each([
    ["pap", "alicepw", "pass"],
    ["pap", "wrongpw", "fail Authentication failed"],
    ["ascii", "alicepw", "pass"],
    ["ascii", "wrongpw", "fail Authentication failed"],
  ] as const)("%s login with %s → %s", async (type, password, outcome) => {
    const before = stack.servers[0]!.counters.sessionsStarted;
    expect(await perlLogin(port, type, "alice", password)).toBe(outcome);
    expect(stack.servers[0]!.counters.sessionsStarted).toBe(before + 1);
  });

  test("a client with the wrong key is refused by the proxy, not by the server", async () => {
    const before = stack.servers[0]!.counters.packetsReceived;
    expect(await perlLogin(port, "pap", "alice", "alicepw", "wrong-key")).toStartWith("fail");
    expect(stack.servers[0]!.counters.packetsReceived).toBe(before);
  });
});
