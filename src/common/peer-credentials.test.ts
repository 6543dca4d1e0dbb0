import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { peerCredentials, type PeerCredentials } from "./peer-credentials";

async function credentialsSeenBy(listen: (open: (fd: number | undefined) => void) => { stop(): void; connect(): Promise<{ end(): void }> }) {
  let seen!: (peer: PeerCredentials | undefined) => void;
  const result = new Promise<PeerCredentials | undefined>((resolve) => (seen = resolve));
  const server = listen((fd) => seen(peerCredentials(fd)));
  const client = await server.connect();
  try {
    return await result;
  } finally {
    client.end();
    server.stop();
  }
}

test("a Unix socket's peer is this process, with its uid and gid", async () => {
  const dir = mkdtempSync(join(tmpdir(), "peercred-"));
  try {
    const path = join(dir, "s.sock");
    const peer = await credentialsSeenBy((open) => {
      const listener = Bun.listen({ unix: path, socket: { open: (socket) => open((socket as { fd?: number }).fd), data() {} } });
      return { stop: () => listener.stop(true), connect: () => Bun.connect({ unix: path, socket: { data() {} } }) };
    });
    expect(peer).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a TCP socket has no peer credentials", async () => {
  const peer = await credentialsSeenBy((open) => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (socket) => open((socket as { fd?: number }).fd), data() {} } });
    return { stop: () => listener.stop(true), connect: () => Bun.connect({ hostname: "127.0.0.1", port: listener.port, socket: { data() {} } }) };
  });
  expect(peer).toBeUndefined();
});

test("no descriptor, a bad one, or one that is not a socket gives undefined", () => {
  expect(peerCredentials(undefined)).toBeUndefined();
  expect(peerCredentials(-1)).toBeUndefined();
  expect(peerCredentials(1.5)).toBeUndefined();
  expect(peerCredentials(987_654)).toBeUndefined();
  expect(peerCredentials(0)).toBeUndefined();
});
