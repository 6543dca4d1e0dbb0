import { expect, test } from "bun:test";
import { decodeNotification, encodeResponse } from "./notification";

test("seccomp_notif decodes id, pid, nr, arch and the six arguments", () => {
  const bytes = new Uint8Array(80);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, 0xfedc_ba98_7654_3210n, true);
  view.setUint32(8, 4242, true);
  view.setInt32(16, 59, true);
  view.setUint32(20, 0xc000_003e, true);
  for (let i = 0; i < 6; i++) view.setBigUint64(32 + i * 8, BigInt(0x7ffd_0000_0000 + i), true);
  const n = decodeNotification(bytes);
  expect(n).toEqual({ id: 0xfedc_ba98_7654_3210n, pid: 4242, nr: 59, arch: 0xc000_003e, args: [0, 1, 2, 3, 4, 5].map((i) => BigInt(0x7ffd_0000_0000 + i)) });
  expect(() => decodeNotification(new Uint8Array(79))).toThrow("expected 80");
});

test("seccomp_notif_resp: CONTINUE has flag 1 and error 0; a failure has -errno and no flag", () => {
  const allow = new DataView(encodeResponse(7n, { kind: "continue" }).buffer);
  expect([allow.getBigUint64(0, true), allow.getInt32(16, true), allow.getUint32(20, true)]).toEqual([7n, 0, 1]);
  const deny = new DataView(encodeResponse(8n, { kind: "fail", errno: 13 }).buffer);
  expect([deny.getBigUint64(0, true), deny.getBigInt64(8, true), deny.getInt32(16, true), deny.getUint32(20, true)]).toEqual([8n, 0n, -13, 0]);
});
