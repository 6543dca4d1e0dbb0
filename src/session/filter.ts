/**
 * The classic BPF program of the session's seccomp filter (pure): hold every execve/execveat
 * for the supervisor (SECCOMP_RET_USER_NOTIF), allow every other syscall. A syscall of an
 * architecture the program does not know fails with EPERM: the filter fails closed.
 */
import { EPERM, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_USER_NOTIF, type ExecSyscalls } from "./abi";

/** struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}. */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// linux/bpf_common.h
const BPF_LD_W_ABS = 0x00 | 0x00 | 0x20;
const BPF_JMP_JEQ_K = 0x05 | 0x10 | 0x00;
const BPF_RET_K = 0x06 | 0x00;

/** Offsets in struct seccomp_data. */
const DATA_NR = 0;
const DATA_ARCH = 4;

const load = (offset: number): BpfInstruction => ({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: offset });
const jumpIfEqual = (k: number, jt: number, jf: number): BpfInstruction => ({ code: BPF_JMP_JEQ_K, jt, jf, k: k >>> 0 });
const ret = (k: number): BpfInstruction => ({ code: BPF_RET_K, jt: 0, jf: 0, k: k >>> 0 });

/**
 * Per audit arch: `jeq ARCH (else skip the block); ld nr; jeq each exec nr → notify; ret allow`,
 * after one `ld arch`; then `ret EPERM` (no arch matched) and the shared `ret USER_NOTIF`.
 */
export function execFilter(archs: readonly ExecSyscalls[]): BpfInstruction[] {
  const byArch = new Map<number, number[]>();
  for (const { auditArch, execve, execveat } of archs) byArch.set(auditArch, [...(byArch.get(auditArch) ?? []), execve, execveat]);
  let length = 1 + 2;
  for (const numbers of byArch.values()) length += 3 + numbers.length;
  const notifyAt = length - 1;
  const program: BpfInstruction[] = [load(DATA_ARCH)];
  for (const [auditArch, numbers] of byArch) {
    program.push(jumpIfEqual(auditArch, 0, numbers.length + 2), load(DATA_NR));
    for (const nr of numbers) program.push(jumpIfEqual(nr, notifyAt - program.length - 1, 0));
    program.push(ret(SECCOMP_RET_ALLOW));
  }
  program.push(ret(SECCOMP_RET_ERRNO | EPERM), ret(SECCOMP_RET_USER_NOTIF));
  if (program.some((i) => i.jt > 255 || i.jf > 255)) throw new Error("seccomp filter too long for 8-bit jumps");
  return program;
}

/** The program as the kernel reads it: 8 bytes per instruction, little-endian host order. */
export function encodeFilter(program: readonly BpfInstruction[]): Uint8Array {
  const bytes = new Uint8Array(program.length * 8);
  const view = new DataView(bytes.buffer);
  program.forEach(({ code, jt, jf, k }, i) => {
    view.setUint16(i * 8, code, true);
    view.setUint8(i * 8 + 2, jt);
    view.setUint8(i * 8 + 3, jf);
    view.setUint32(i * 8 + 4, k, true);
  });
  return bytes;
}
