/**
 * Seeded, bounded fuzz of the downstream listener with the real engine behind it: random bytes and
 * mutated valid packets on fresh connections, a quarter of them as the CONTINUE after a real GETPASS. Nothing may crash or wedge the proxy: afterwards no
 * connection lingers, nothing was logged above debug, and a normal login succeeds.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import {
  AcctFlags,
  AuthenAction,
  AuthenMethod,
  AuthenService,
  AuthenStatus,
  AuthenType,
  AuthorStatus,
  encodeAcctRequest,
  encodeAuthenContinue,
  encodeAuthenStart,
  encodeAuthorRequest,
  encodePacket,
  PacketType,
} from "../../src/protocol";
import { recordingLogger } from "../../src/proxy/test-support";
import { account, arg, authorize, LegacyConnection, papLogin } from "../support/legacy-client";
import { LAB_KEY, startProxyStack, type ProxyStack } from "../support/proxy-stack";
import { prng } from "../support/prng";

const SEED = Number(process.env.PROXY_FUZZ_SEED ?? 0x5eed);
// `npm run fuzz` (scripts/fuzz.ts) runs more cases with other seeds.
const CASES = Number(process.env.FUZZ_CASES ?? 300);
const BATCH = 25;
const key = new TextEncoder().encode(LAB_KEY);


const { logger, lines } = recordingLogger();
let stack: ProxyStack;
beforeAll(async () => {
  stack = await startProxyStack({ idleTimeoutMs: 200, logger });
});
afterAll(() => stack?.stop());

const common = { privLvl: 1, authenType: AuthenType.Ascii, user: "alice", port: "tty1", remAddr: "127.0.0.1" };
/** Well-formed client bodies to start mutating from: PAP START, authorization and accounting REQUEST. */
const SEED_BODIES: [PacketType, number, Uint8Array][] = [
  [
    PacketType.Authentication,
    0xc1,
    encodeAuthenStart({ ...common, action: AuthenAction.Login, authenType: AuthenType.Pap, service: AuthenService.Login, data: new TextEncoder().encode("alicepw") }),
  ],
  [PacketType.Authorization, 0xc0, encodeAuthorRequest({ ...common, authenMethod: AuthenMethod.TacacsPlus, authenService: AuthenService.Login, args: [arg("service", "shell")] })],
  [PacketType.Accounting, 0xc0, encodeAcctRequest({ ...common, flags: AcctFlags.Start, authenMethod: AuthenMethod.TacacsPlus, authenService: AuthenService.Login, args: [arg("task_id", "1")] })],
];

const ASCII_START = encodeAuthenStart({ ...common, action: AuthenAction.Login, service: AuthenService.Login, data: new Uint8Array() });
const PASSWORD_CONTINUE = encodeAuthenContinue({ flags: 0, userMsg: new TextEncoder().encode("alicepw"), data: new Uint8Array() });

function seedPacket(random: () => number): Uint8Array {
  const [type, version, body] = SEED_BODIES[Math.floor(random() * SEED_BODIES.length)]!;
  const sessionId = Math.floor(random() * 0xfffffffe) + 1;
  return encodePacket({ version, type, seqNo: 1, flags: 0, sessionId }, body, key);
}

/** One fuzz case, fully decided up front so the seed alone reproduces it. */
interface Case {
  /** A valid ASCII START sent first (its GETPASS awaited), so `bytes` hit the CONTINUE phase. */
  prelude?: Uint8Array;
  bytes: Uint8Array;
  /** `bytes` go out in two writes split here. */
  cut: number;
  /** The client hangs up right after writing instead of reading. */
  hangUp: boolean;
}

function fuzzCase(random: () => number): Case {
  let prelude: Uint8Array | undefined;
  let valid: Uint8Array;
  if (random() < 0.25) {
    const sessionId = Math.floor(random() * 0xfffffffe) + 1;
    const header = (seqNo: number) => ({ version: 0xc0, type: PacketType.Authentication, seqNo, flags: 0, sessionId });
    prelude = encodePacket(header(1), ASCII_START, key);
    valid = encodePacket(header(3), PASSWORD_CONTINUE, key);
  } else {
    valid = seedPacket(random);
  }
  const bytes = mutate(random, valid);
  return { prelude, bytes, cut: Math.floor(random() * bytes.length), hangUp: random() < 0.2 };
}

function mutate(random: () => number, packet: Uint8Array): Uint8Array {
  const pick = (n: number) => Math.floor(random() * n);
  const bytes = packet.slice();
  switch (pick(6)) {
    case 0: // flip a few bytes anywhere (header or body)
      for (let i = 0, n = 1 + pick(4); i < n; i++) bytes[pick(bytes.length)] = pick(256);
      return bytes;
    case 1: // truncate
      return bytes.subarray(0, pick(bytes.length));
    case 2: // a random length field (huge, short, zero)
      new DataView(bytes.buffer).setUint32(8, [0, 1, 0xffffffff, pick(0x7fffffff), bytes.length - 12 + 1 + pick(10)][pick(5)]!);
      return bytes;
    case 3: // a valid packet followed by junk or a second packet
      return Uint8Array.from([...bytes, ...(random() < 0.5 ? bytes : randomBytes(random, 1 + pick(40)))]);
    case 4: // wrong seq_no, type, version or flags
      bytes[[0, 1, 2, 3][pick(4)]!] = pick(256);
      return bytes;
    default: // entirely random bytes
      return randomBytes(random, 1 + pick(200));
  }
}

function randomBytes(random: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

/** Sends one case and waits (bounded) for the proxy to answer or close. */
async function send({ prelude, bytes, cut, hangUp }: Case): Promise<void> {
  const connection = await LegacyConnection.open(stack.proxy.endpoint, 2000);
  try {
    if (prelude) {
      connection.write(prelude);
      if ((await connection.next(1500)) === "closed") throw new Error("no GETPASS for a valid ASCII START");
    }
    connection.write(bytes.subarray(0, cut));
    connection.write(bytes.subarray(cut));
    if (hangUp) return;
    for (let i = 0; i < 3; i++) if ((await connection.next(1500).catch(() => "closed" as const)) === "closed") return;
  } finally {
    connection.close();
  }
}

test(`fuzz: ${CASES} random and mutated packets (seed ${SEED}) never crash or wedge the proxy`, async () => {
  const random = prng(SEED);
  const cases = Array.from({ length: CASES }, () => fuzzCase(random));
  for (let i = 0; i < cases.length; i += BATCH) await Promise.all(cases.slice(i, i + BATCH).map(send));

  // Every connection ends within the idle timeout; nothing above debug/info was logged but the
  // failover state changes (a warning each, by design) when the server drops a forwarded mutant.
  const deadline = Date.now() + 2000;
  while (stack.proxy.connections() > 0 && Date.now() < deadline) await Bun.sleep(20);
  expect(stack.proxy.connections()).toBe(0);
  const stateChange = /^failover: \w+ \([^)]*\) → \w+ \([^)]*\)$/;
  expect(lines.filter((line) => (line.level === "error" || line.level === "warn") && !stateChange.test(line.text))).toEqual([]);
  expect(lines.filter((line) => line.level === "debug").length).toBeGreaterThan(CASES / 4);

  const client = { endpoint: stack.proxy.endpoint, key };
  expect((await papLogin(client, "alice", "alicepw")).last.status).toBe(AuthenStatus.Pass);
  expect((await authorize(client, "alice", [arg("service", "shell"), arg("cmd", "show"), arg("cmd-arg", "version")])).last.status).toBe(AuthorStatus.PassAdd);
  expect((await account(client, "alice", AcctFlags.Stop, [arg("task_id", "1")])).closedAfter).toBe(true);
}, 25_000);
