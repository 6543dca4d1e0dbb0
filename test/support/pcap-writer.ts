/**
 * Writes a capture of one TCP connection carrying given payloads, for the tshark oracle and the
 * capture reader's own tests: classic pcap or pcapng, Ethernet / Linux cooked / BSD loopback,
 * IPv4 or IPv6, with a handshake, correct sequence numbers and checksums, and a FIN exchange.
 */

export type LinkLayer = "ethernet" | "linux-sll" | "loopback";

export interface Segment {
  fromClient: boolean;
  payload: Uint8Array;
}

export interface ConnectionCapture {
  format: "pcap" | "pcapng";
  link: LinkLayer;
  ipVersion: 4 | 6;
  clientPort: number;
  serverPort: number;
  segments: readonly Segment[];
}

const LINK_TYPE: Record<LinkLayer, number> = { ethernet: 1, "linux-sll": 113, loopback: 0 };
const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;


/** The Internet checksum (RFC 1071) over the given parts. */
function checksum(parts: readonly Uint8Array[]): number {
  const all = Buffer.concat(parts);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum += (all[i]! << 8) | (all[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function addresses(ipVersion: 4 | 6): { client: Uint8Array; server: Uint8Array } {
  if (ipVersion === 4) return { client: Uint8Array.of(127, 0, 0, 1), server: Uint8Array.of(127, 0, 0, 1) };
  const loopback = new Uint8Array(16);
  loopback[15] = 1;
  return { client: loopback, server: loopback };
}

function tcpSegment(src: Uint8Array, dst: Uint8Array, ipVersion: 4 | 6, ports: [number, number], seq: number, ack: number, flags: number, payload: Uint8Array): Uint8Array {
  const tcp = new Uint8Array(20 + payload.length);
  const v = new DataView(tcp.buffer);
  v.setUint16(0, ports[0]);
  v.setUint16(2, ports[1]);
  v.setUint32(4, seq >>> 0);
  v.setUint32(8, ack >>> 0);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  v.setUint16(14, 65535);
  tcp.set(payload, 20);
  const pseudo = new Uint8Array(ipVersion === 4 ? 12 : 40);
  const p = new DataView(pseudo.buffer);
  pseudo.set(src, 0);
  pseudo.set(dst, src.length);
  if (ipVersion === 4) {
    pseudo[9] = 6;
    p.setUint16(10, tcp.length);
  } else {
    p.setUint32(32, tcp.length);
    pseudo[39] = 6;
  }
  v.setUint16(16, checksum([pseudo, tcp]));
  return tcp;
}

function ipPacket(src: Uint8Array, dst: Uint8Array, ipVersion: 4 | 6, tcp: Uint8Array, id: number): Uint8Array {
  if (ipVersion === 4) {
    const ip = new Uint8Array(20);
    const v = new DataView(ip.buffer);
    ip[0] = 0x45;
    v.setUint16(2, 20 + tcp.length);
    v.setUint16(4, id & 0xffff);
    v.setUint16(6, 0x4000); // don't fragment
    ip[8] = 64;
    ip[9] = 6;
    ip.set(src, 12);
    ip.set(dst, 16);
    v.setUint16(10, checksum([ip]));
    return Buffer.concat([ip, tcp]);
  }
  const ip = new Uint8Array(40);
  const v = new DataView(ip.buffer);
  ip[0] = 0x60;
  v.setUint16(4, tcp.length);
  ip[6] = 6;
  ip[7] = 64;
  ip.set(src, 8);
  ip.set(dst, 24);
  return Buffer.concat([ip, tcp]);
}

function linkFrame(link: LinkLayer, ipVersion: 4 | 6, ip: Uint8Array): Uint8Array {
  const etherType = ipVersion === 4 ? 0x0800 : 0x86dd;
  if (link === "ethernet") {
    const eth = new Uint8Array(14);
    eth.set([2, 0, 0, 0, 0, 2], 0);
    eth.set([2, 0, 0, 0, 0, 1], 6);
    new DataView(eth.buffer).setUint16(12, etherType);
    return Buffer.concat([eth, ip]);
  }
  if (link === "linux-sll") {
    const sll = new Uint8Array(16);
    const v = new DataView(sll.buffer);
    v.setUint16(0, 0); // packet to us
    v.setUint16(2, 772); // ARPHRD_LOOPBACK
    v.setUint16(4, 6);
    v.setUint16(14, etherType);
    return Buffer.concat([sll, ip]);
  }
  // BSD loopback: the address family in host (here little-endian) byte order; AF_INET6 is 24 on BSD.
  const family = new Uint8Array(4);
  new DataView(family.buffer).setUint32(0, ipVersion === 4 ? 2 : 24, true);
  return Buffer.concat([family, ip]);
}

/** The link-layer frames of the whole connection: handshake, data with ACKs, FIN exchange. */
function connectionFrames(c: ConnectionCapture): Uint8Array[] {
  const { client, server } = addresses(c.ipVersion);
  let clientSeq = 1000;
  let serverSeq = 5000;
  const frames: Uint8Array[] = [];
  const send = (fromClient: boolean, flags: number, payload: Uint8Array) => {
    const [src, dst] = fromClient ? [client, server] : [server, client];
    const ports: [number, number] = fromClient ? [c.clientPort, c.serverPort] : [c.serverPort, c.clientPort];
    const seq = fromClient ? clientSeq : serverSeq;
    const ack = fromClient ? serverSeq : clientSeq;
    const tcp = tcpSegment(src, dst, c.ipVersion, ports, seq, flags & ACK ? ack : 0, flags, payload);
    frames.push(linkFrame(c.link, c.ipVersion, ipPacket(src, dst, c.ipVersion, tcp, frames.length)));
    const advance = payload.length + (flags & (SYN | FIN) ? 1 : 0);
    if (fromClient) clientSeq += advance;
    else serverSeq += advance;
  };
  send(true, SYN, new Uint8Array(0));
  send(false, SYN | ACK, new Uint8Array(0));
  send(true, ACK, new Uint8Array(0));
  for (const s of c.segments) send(s.fromClient, PSH | ACK, s.payload);
  send(true, FIN | ACK, new Uint8Array(0));
  send(false, FIN | ACK, new Uint8Array(0));
  send(true, ACK, new Uint8Array(0));
  return frames;
}

function pcap(linkType: number, frames: readonly Uint8Array[]): Uint8Array {
  const header = new Uint8Array(24);
  const h = new DataView(header.buffer);
  h.setUint32(0, 0xa1b2c3d4, true);
  h.setUint16(4, 2, true);
  h.setUint16(6, 4, true);
  h.setUint32(16, 262144, true);
  h.setUint32(20, linkType, true);
  const records = frames.map((frame, i) => {
    const record = new Uint8Array(16);
    const r = new DataView(record.buffer);
    r.setUint32(0, 1_700_000_000 + i, true);
    r.setUint32(8, frame.length, true);
    r.setUint32(12, frame.length, true);
    return Buffer.concat([record, frame]);
  });
  return Buffer.concat([header, ...records]);
}

function pcapngBlock(type: number, body: Uint8Array): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const block = new Uint8Array(12 + padded);
  const v = new DataView(block.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, block.length, true);
  block.set(body, 8);
  v.setUint32(block.length - 4, block.length, true);
  return block;
}

function pcapng(linkType: number, frames: readonly Uint8Array[]): Uint8Array {
  const shb = new Uint8Array(16);
  const s = new DataView(shb.buffer);
  s.setUint32(0, 0x1a2b3c4d, true);
  s.setUint16(4, 1, true);
  s.setBigInt64(8, -1n, true); // section length unknown
  const idb = new Uint8Array(8);
  const i = new DataView(idb.buffer);
  i.setUint16(0, linkType, true);
  i.setUint32(4, 262144, true);
  const epbs = frames.map((frame, n) => {
    const head = new Uint8Array(20);
    const e = new DataView(head.buffer);
    e.setUint32(8, n, true);
    e.setUint32(12, frame.length, true);
    e.setUint32(16, frame.length, true);
    return pcapngBlock(6, Buffer.concat([head, frame]));
  });
  return Buffer.concat([pcapngBlock(0x0a0d0d0a, shb), pcapngBlock(1, idb), ...epbs]);
}

export function writeConnectionCapture(c: ConnectionCapture): Uint8Array {
  const frames = connectionFrames(c);
  return c.format === "pcap" ? pcap(LINK_TYPE[c.link], frames) : pcapng(LINK_TYPE[c.link], frames);
}
