import { expect, test } from "bun:test";
import { describePeer, peerKey, PeerTable } from "./peers";

test("a peer is the uid on a Unix socket, 'unknown' without credentials, and all of TCP as one", () => {
  expect(peerKey(true, { pid: 42, uid: 1001, gid: 1001 })).toBe(1001);
  expect(peerKey(true, undefined)).toBe("unknown");
  expect(peerKey(false, undefined)).toBe("tcp");
  expect([1001, "tcp", "unknown"].map((key) => describePeer(key as never))).toEqual(["uid 1001", "peer tcp (all TCP clients)", "peer unknown (no SO_PEERCRED)"]);
});

test("the table keeps a peer while it holds a connection or a call, and forgets it after", () => {
  const table = new PeerTable();
  const peer = table.of(1001);
  expect(table.of(1001)).toBe(peer);
  peer.connections = 1;
  peer.calls = 1;
  peer.connections = 0;
  table.release(peer);
  expect(table.size).toBe(1);
  peer.calls = 0;
  table.release(peer);
  expect(table.size).toBe(0);
  // A later connection of the same uid starts afresh; releasing the old usage again changes nothing.
  const again = table.of(1001);
  again.connections = 1;
  table.release(peer);
  expect(table.of(1001)).toBe(again);
});
