import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Flags, PacketType, VERSION_DEFAULT, encodePacket } from "../../src/protocol";
import { writeConnectionCapture, type ConnectionCapture, type LinkLayer, type Segment } from "./pcap-writer";
import { CaptureError, readCapture, tacacsFlows, tcpConnections } from "./pcapng";
import { havePeer } from "./peer";

const frame = (seqNo: number, size: number) =>
  encodePacket({ version: VERSION_DEFAULT, type: PacketType.Accounting, seqNo, flags: Flags.Unencrypted, sessionId: 5 }, new Uint8Array(size).fill(seqNo));
const client = [frame(1, 30), frame(3, 0)];
const server = [frame(2, 10), frame(4, 700)];
/** The first and last frames are split across two segments each. */
const segments: Segment[] = [
  { fromClient: true, payload: client[0]!.subarray(0, 5) },
  { fromClient: true, payload: client[0]!.subarray(5) },
  { fromClient: false, payload: server[0]! },
  { fromClient: true, payload: client[1]! },
  { fromClient: false, payload: server[1]!.subarray(0, 300) },
  { fromClient: false, payload: server[1]!.subarray(300) },
];

const variants: ConnectionCapture[] = (["pcap", "pcapng"] as const).flatMap((format) =>
  (["ethernet", "linux-sll", "loopback"] as LinkLayer[]).flatMap((link) =>
    ([4, 6] as const).map((ipVersion, i) => ({ format, link, ipVersion, clientPort: 41000 + i, serverPort: 4949, segments })),
  ),
);

for (const v of variants) {
  test(`reads ${v.format} / ${v.link} / IPv${v.ipVersion}`, () => {
    const flows = tacacsFlows(writeConnectionCapture(v));
    expect(flows.length).toBe(1);
    expect(flows[0]!.client).toEqual(client);
    expect(flows[0]!.server).toEqual(server);
    const loopback = v.ipVersion === 4 ? "127.0.0.1" : "[::1]";
    expect(flows[0]!.clientEndpoint).toBe(`${loopback}:${v.clientPort}`);
    expect(flows[0]!.serverEndpoint).toBe(`${loopback}:4949`);
  });
}

test("reassembles segments captured out of order and drops retransmissions", () => {
  const packets = readCapture(writeConnectionCapture(variants[0]!));
  const [handshake, data, fin] = [packets.slice(0, 3), packets.slice(3, -3), packets.slice(-3)];
  const shuffled = [...handshake, ...data.reverse(), data[0]!, ...fin];
  const [conn] = tcpConnections(shuffled);
  expect(conn!.clientBytes).toEqual(Uint8Array.of(...client[0]!, ...client[1]!));
  expect(conn!.serverBytes).toEqual(Uint8Array.of(...server[0]!, ...server[1]!));
});

test("a missing segment is a CaptureError, not silently wrong bytes", () => {
  const packets = readCapture(writeConnectionCapture(variants[0]!));
  const withoutSecond = packets.filter((_, i) => i !== 4);
  expect(() => tcpConnections(withoutSecond)).toThrow(CaptureError);
});

test("a frame cut short at the end of the capture is a CaptureError", () => {
  const cut = writeConnectionCapture({ ...variants[0]!, segments: segments.slice(0, 1) });
  expect(() => tacacsFlows(cut)).toThrow(/incomplete frame/);
});

test("non-captures are refused", () => {
  expect(() => readCapture(new Uint8Array(100))).toThrow(CaptureError);
});

const available = havePeer("tshark") && havePeer("mergecap");
const dir = mkdtempSync(join(tmpdir(), "pcap-writer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test.skipIf(!available)("tshark reads every variant the writer produces; the reader reads mergecap's multi-interface pcapng", async () => {
  const files = await Promise.all(
    variants.map(async (v, i) => {
      const file = join(dir, `v${i}.${v.format}`);
      await Bun.write(file, writeConnectionCapture({ ...v, clientPort: 42000 + i }));
      return file;
    }),
  );
  const merged = join(dir, "merged.pcapng");
  const merge = Bun.spawnSync(["mergecap", "-a", "-w", merged, ...files], { timeout: 20_000 });
  expect(merge.exitCode).toBe(0);
  const run = Bun.spawnSync(["tshark", "-n", "-r", merged, "-d", "tcp.port==4949,tacplus", "-Y", "tacplus", "-T", "fields", "-e", "tcp.srcport", "-e", "tacplus.seqno"], {
    timeout: 20_000,
  });
  expect(run.exitCode).toBe(0);
  const rows = run.stdout.toString().trim().split("\n");
  const expected = variants.flatMap((_, i) => [`${42000 + i}\t1`, `4949\t2`, `${42000 + i}\t3`, `4949\t4`]);
  expect(rows).toEqual(expected);
  const flows = tacacsFlows(readFileSync(merged));
  expect(flows.map((f) => f.client.length + f.server.length)).toEqual(variants.map(() => 4));
}, 30_000);
