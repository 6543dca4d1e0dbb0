/**
 * A small capture reader for tests: pcapng (enhanced and simple packet blocks) and classic pcap,
 * Ethernet / Linux cooked (v1, v2) / BSD loopback / raw IP link types, IPv4 and IPv6, and TCP
 * payload reassembly per direction by sequence number. `readTacacsFlows` turns a capture into the
 * TACACS+ frames of each TCP connection, so tests can decode them or replay the client halves.
 */
import { readFileSync } from "node:fs";
import { FrameReader, MAX_BODY_LENGTH_CAP } from "../../src/protocol";

/** The real-traffic captures shipped with the tests (copied from the team's shared captures; key `labkey123`). */
export const CAPTURE_DIR = new URL("../fixtures/captures/", import.meta.url).pathname;
export const CAPTURE_KEY = "labkey123";

export interface CapturedPacket {
  linkType: number;
  data: Uint8Array;
}

export interface TcpSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  syn: boolean;
  ack: boolean;
  payload: Uint8Array;
}

/** One TCP connection: the bytes each side sent, in stream order. */
export interface TcpConnection {
  client: string;
  server: string;
  clientBytes: Uint8Array;
  serverBytes: Uint8Array;
}

/** One TCP connection's TACACS+ frames (header + obfuscated body, as on the wire), in order. */
export interface TacacsFlow {
  client: Uint8Array[];
  server: Uint8Array[];
  /** "address:port" of each side. */
  clientEndpoint: string;
  serverEndpoint: string;
}

export class CaptureError extends Error {
  override readonly name = "CaptureError";
}

const PCAPNG_SECTION = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BLOCK_INTERFACE = 1;
const BLOCK_SIMPLE_PACKET = 3;
const BLOCK_ENHANCED_PACKET = 6;
const PCAP_MAGICS = new Map<number, boolean>([
  [0xa1b2c3d4, false],
  [0xa1b23c4d, false],
  [0xd4c3b2a1, true],
  [0x4d3cb2a1, true],
]);

/** Parses a pcapng or classic pcap file into link-layer packets. */
export function readCapture(bytes: Uint8Array): CapturedPacket[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) throw new CaptureError("capture file is too short");
  if (view.getUint32(0, true) === PCAPNG_SECTION) return readPcapng(bytes, view);
  const swapped = PCAP_MAGICS.get(view.getUint32(0, false));
  if (swapped === undefined) throw new CaptureError("not a pcap or pcapng file");
  return readPcap(bytes, view, !swapped);
}

function readPcap(bytes: Uint8Array, view: DataView, bigEndian: boolean): CapturedPacket[] {
  const little = !bigEndian;
  const linkType = view.getUint32(20, little) & 0xffff;
  const packets: CapturedPacket[] = [];
  for (let offset = 24; offset + 16 <= bytes.length; ) {
    const capturedLength = view.getUint32(offset + 8, little);
    const start = offset + 16;
    if (start + capturedLength > bytes.length) throw new CaptureError("truncated pcap record");
    packets.push({ linkType, data: bytes.subarray(start, start + capturedLength) });
    offset = start + capturedLength;
  }
  return packets;
}

function readPcapng(bytes: Uint8Array, view: DataView): CapturedPacket[] {
  const packets: CapturedPacket[] = [];
  let little = true;
  let interfaces: number[] = [];
  for (let offset = 0; offset + 12 <= bytes.length; ) {
    if (view.getUint32(offset, true) === PCAPNG_SECTION) {
      little = view.getUint32(offset + 8, true) === BYTE_ORDER_MAGIC;
      interfaces = [];
    }
    const type = view.getUint32(offset, little);
    const length = view.getUint32(offset + 4, little);
    if (length < 12 || length % 4 !== 0 || offset + length > bytes.length) {
      throw new CaptureError(`bad pcapng block length ${length} at offset ${offset}`);
    }
    const body = offset + 8;
    if (type === BLOCK_INTERFACE) {
      interfaces.push(view.getUint16(body, little));
    } else if (type === BLOCK_ENHANCED_PACKET) {
      const linkType = interfaces[view.getUint32(body, little)];
      if (linkType === undefined) throw new CaptureError("packet block names an unknown interface");
      const capturedLength = view.getUint32(body + 12, little);
      packets.push({ linkType, data: bytes.subarray(body + 20, body + 20 + capturedLength) });
    } else if (type === BLOCK_SIMPLE_PACKET) {
      const linkType = interfaces[0];
      if (linkType === undefined) throw new CaptureError("simple packet block before any interface");
      const originalLength = view.getUint32(body, little);
      packets.push({ linkType, data: bytes.subarray(body + 4, body + 4 + Math.min(originalLength, length - 16)) });
    }
    offset += length;
  }
  return packets;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = [0x8100, 0x88a8];

/** The IP packet inside a link-layer frame, or undefined for other traffic. */
function ipPayload(packet: CapturedPacket): Uint8Array | undefined {
  const d = packet.data;
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const u16 = (at: number) => (at + 2 <= d.length ? view.getUint16(at) : -1);
  switch (packet.linkType) {
    case 1: {
      // Ethernet, possibly VLAN-tagged.
      let at = 12;
      while (ETHERTYPE_VLAN.includes(u16(at))) at += 4;
      return [ETHERTYPE_IPV4, ETHERTYPE_IPV6].includes(u16(at)) ? d.subarray(at + 2) : undefined;
    }
    case 113: // Linux cooked v1: protocol at 14, 16-byte header
      return [ETHERTYPE_IPV4, ETHERTYPE_IPV6].includes(u16(14)) ? d.subarray(16) : undefined;
    case 276: // Linux cooked v2: protocol at 0, 20-byte header
      return [ETHERTYPE_IPV4, ETHERTYPE_IPV6].includes(u16(0)) ? d.subarray(20) : undefined;
    case 0: // BSD loopback (host byte order family)
    case 108: // OpenBSD loopback (network byte order family)
      return d.length > 4 ? d.subarray(4) : undefined;
    case 12:
    case 101:
    case 228:
    case 229: // raw IP
      return d;
    default:
      throw new CaptureError(`unsupported link type ${packet.linkType}`);
  }
}

const IPV6_EXTENSIONS = [0, 43, 60];

function formatIpv6(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::");
}

/** The TCP segment inside an IP packet, or undefined for non-TCP traffic and fragments. */
function tcpSegment(ip: Uint8Array): TcpSegment | undefined {
  const view = new DataView(ip.buffer, ip.byteOffset, ip.byteLength);
  let src: string;
  let dst: string;
  let tcp: Uint8Array;
  const version = ip[0]! >> 4;
  if (version === 4) {
    const headerLength = (ip[0]! & 0x0f) * 4;
    const fragmented = (view.getUint16(6) & 0x3fff) !== 0;
    if (ip[9] !== 6 || fragmented) return undefined;
    src = ip.subarray(12, 16).join(".");
    dst = ip.subarray(16, 20).join(".");
    tcp = ip.subarray(headerLength, view.getUint16(2)); // total length drops Ethernet padding
  } else if (version === 6) {
    let next = ip[6]!;
    let at = 40;
    while (IPV6_EXTENSIONS.includes(next)) {
      next = ip[at]!;
      at += (ip[at + 1]! + 1) * 8;
    }
    if (next !== 6) return undefined;
    src = formatIpv6(ip.subarray(8, 24));
    dst = formatIpv6(ip.subarray(24, 40));
    tcp = ip.subarray(at, 40 + view.getUint16(4));
  } else {
    return undefined;
  }
  const t = new DataView(tcp.buffer, tcp.byteOffset, tcp.byteLength);
  const flags = tcp[13]!;
  return {
    src,
    dst,
    srcPort: t.getUint16(0),
    dstPort: t.getUint16(2),
    seq: t.getUint32(4),
    syn: (flags & 0x02) !== 0,
    ack: (flags & 0x10) !== 0,
    payload: tcp.subarray((tcp[12]! >> 4) * 4),
  };
}

interface Direction {
  /** Sequence number of the first payload byte (SYN + 1), once known. */
  start?: number;
  segments: { seq: number; payload: Uint8Array }[];
}

/** Concatenates one direction's payload by sequence number; duplicates are dropped, gaps are errors. */
function reassemble(dir: Direction, label: string): Uint8Array {
  if (dir.segments.length === 0) return new Uint8Array(0);
  const start = dir.start ?? dir.segments[0]!.seq;
  const parts = dir.segments
    .map((s) => ({ offset: (s.seq - start) >>> 0, payload: s.payload }))
    .sort((a, b) => a.offset - b.offset);
  const total = Math.max(...parts.map((p) => p.offset + p.payload.length));
  const out = new Uint8Array(total);
  let filled = 0;
  for (const p of parts) {
    if (p.offset > filled) throw new CaptureError(`${label}: ${p.offset - filled} bytes missing at stream offset ${filled}`);
    const end = p.offset + p.payload.length;
    if (end > filled) {
      out.set(p.payload.subarray(filled - p.offset), filled);
      filled = end;
    }
  }
  return out;
}

/** Reassembles every TCP connection in the capture, in order of first appearance. */
export function tcpConnections(packets: readonly CapturedPacket[]): TcpConnection[] {
  type Conn = { client?: string; first: string; dirs: Map<string, Direction> };
  const all: Conn[] = [];
  const current = new Map<string, Conn>();
  for (const packet of packets) {
    const ip = ipPayload(packet);
    const seg = ip && tcpSegment(ip);
    if (!seg) continue;
    const from = seg.src.includes(":") ? `[${seg.src}]:${seg.srcPort}` : `${seg.src}:${seg.srcPort}`;
    const to = seg.dst.includes(":") ? `[${seg.dst}]:${seg.dstPort}` : `${seg.dst}:${seg.dstPort}`;
    const key = [from, to].sort().join(" ");
    let conn = current.get(key);
    // A new SYN on a 4-tuple that already carried data starts a new connection (port reuse).
    const reused = conn !== undefined && seg.syn && !seg.ack && [...conn.dirs.values()].some((d) => d.segments.length > 0);
    if (!conn || reused) {
      conn = { first: from, dirs: new Map() };
      all.push(conn);
      current.set(key, conn);
    }
    const dir = conn.dirs.get(from) ?? { segments: [] };
    conn.dirs.set(from, dir);
    if (seg.syn) {
      dir.start = (seg.seq + 1) >>> 0;
      if (!seg.ack) conn.client = from;
    }
    if (seg.payload.length > 0) {
      // Without a SYN in the capture, the side that speaks first is the client (TACACS+ clients always do).
      conn.client ??= from;
      dir.segments.push({ seq: seg.seq, payload: seg.payload });
    }
  }
  const result: TcpConnection[] = [];
  for (const conn of all) {
    const client = conn.client ?? conn.first;
    const server = [...conn.dirs.keys()].find((k) => k !== client);
    if (!server) continue;
    result.push({
      client,
      server,
      clientBytes: reassemble(conn.dirs.get(client)!, `${client} -> ${server}`),
      serverBytes: reassemble(conn.dirs.get(server)!, `${server} -> ${client}`),
    });
  }
  return result;
}

/** Splits a byte stream into TACACS+ frames; leftover bytes mean the capture cut a frame short. */
export function splitFrames(stream: Uint8Array, label: string): Uint8Array[] {
  const reader = new FrameReader(MAX_BODY_LENGTH_CAP);
  const frames = reader.push(stream);
  if (reader.buffered !== 0) throw new CaptureError(`${label}: ${reader.buffered} bytes of an incomplete frame at the end`);
  return frames;
}

/** The TACACS+ frames of every TCP connection in a capture that carries any. */
export function tacacsFlows(capture: Uint8Array): TacacsFlow[] {
  return tcpConnections(readCapture(capture))
    .filter((c) => c.clientBytes.length > 0)
    .map((c) => ({
      client: splitFrames(c.clientBytes, `${c.client} -> ${c.server}`),
      server: splitFrames(c.serverBytes, `${c.server} -> ${c.client}`),
      clientEndpoint: c.client,
      serverEndpoint: c.server,
    }));
}

/** `tacacsFlows` of a capture file. */
export function readTacacsFlows(file: string): TacacsFlow[] {
  return tacacsFlows(readFileSync(file));
}
