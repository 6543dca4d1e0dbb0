/**
 * struct seccomp_notif and struct seccomp_notif_resp (pure): `u64 id @0, u32 pid @8,
 * u32 flags @12, seccomp_data { i32 nr @16, u32 arch @20, u64 ip @24, u64 args[6] @32 }` and
 * `u64 id @0, i64 val @8, i32 error @16, u32 flags @20`.
 */
import { NOTIF_RESP_SIZE, NOTIF_SIZE, SECCOMP_USER_NOTIF_FLAG_CONTINUE } from "./abi";

export interface Notification {
  /** The kernel's cookie; 64-bit, kept as a bigint. */
  id: bigint;
  /** The thread that called exec, in the supervisor's pid namespace. */
  pid: number;
  nr: number;
  arch: number;
  /** Syscall arguments: pointers as numbers (user addresses fit in 53 bits), or -1n style values as given. */
  args: bigint[];
}

export function decodeNotification(bytes: Uint8Array): Notification {
  if (bytes.length < NOTIF_SIZE) throw new Error(`seccomp notification is ${bytes.length} bytes, expected ${NOTIF_SIZE}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, NOTIF_SIZE);
  const args: bigint[] = [];
  for (let i = 0; i < 6; i++) args.push(view.getBigUint64(32 + i * 8, true));
  return { id: view.getBigUint64(0, true), pid: view.getUint32(8, true), nr: view.getInt32(16, true), arch: view.getUint32(20, true), args };
}

/** The answer to one held exec: let it run (CONTINUE), or fail it with `errno`. */
export type Verdict = { kind: "continue" } | { kind: "fail"; errno: number };

export function encodeResponse(id: bigint, verdict: Verdict, into: Uint8Array = new Uint8Array(NOTIF_RESP_SIZE)): Uint8Array {
  const view = new DataView(into.buffer, into.byteOffset, NOTIF_RESP_SIZE);
  view.setBigUint64(0, id, true);
  view.setBigInt64(8, 0n, true);
  view.setInt32(16, verdict.kind === "continue" ? 0 : -verdict.errno, true);
  view.setUint32(20, verdict.kind === "continue" ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0, true);
  return into;
}
