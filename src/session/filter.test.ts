import { describe, expect, test } from "bun:test";
import { ABIS, EPERM, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_USER_NOTIF } from "./abi";
import { encodeFilter, execFilter, type BpfInstruction } from "./filter";

/** A classic BPF interpreter for the three instructions the filter uses. */
function evaluate(program: readonly BpfInstruction[], data: { nr: number; arch: number }): number {
  let accumulator = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const { code, jt, jf, k } = program[pc]!;
    if (code === 0x20) accumulator = k === 0 ? data.nr >>> 0 : data.arch;
    else if (code === 0x15) pc += accumulator === k ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`unexpected opcode ${code}`);
  }
  throw new Error("fell off the end");
}

describe("the exec filter", () => {
  for (const [name, abi] of Object.entries(ABIS)) {
    test(`${name}: every exec syscall of every ABI is held, everything else allowed, unknown arch refused`, () => {
      const program = execFilter(abi.archs);
      for (const { auditArch, execve, execveat } of abi.archs) {
        expect(evaluate(program, { arch: auditArch, nr: execve })).toBe(SECCOMP_RET_USER_NOTIF);
        expect(evaluate(program, { arch: auditArch, nr: execveat })).toBe(SECCOMP_RET_USER_NOTIF);
        for (const other of [0, 1, 2, 57, 56, 435, 1000]) {
          if (abi.archs.some((a) => a.auditArch === auditArch && (a.execve === other || a.execveat === other))) continue;
          expect(evaluate(program, { arch: auditArch, nr: other })).toBe(SECCOMP_RET_ALLOW);
        }
      }
      expect(evaluate(program, { arch: 0x1234, nr: 59 })).toBe((SECCOMP_RET_ERRNO | EPERM) >>> 0);
    });
  }

  test("x86_64 execve with the x32 bit is held, the plain number of the other ABI is not confused", () => {
    const program = execFilter(ABIS.x64!.archs);
    expect(evaluate(program, { arch: 0xc000_003e, nr: 0x4000_0000 | 520 })).toBe(SECCOMP_RET_USER_NOTIF);
    // 11 is execve on i386 but munmap on x86_64.
    expect(evaluate(program, { arch: 0xc000_003e, nr: 11 })).toBe(SECCOMP_RET_ALLOW);
    expect(evaluate(program, { arch: 0x4000_0003, nr: 59 })).toBe(SECCOMP_RET_ALLOW);
  });

  test("encodes struct sock_filter little-endian, 8 bytes each", () => {
    const bytes = encodeFilter([{ code: 0x15, jt: 2, jf: 1, k: 0xc000_003e }]);
    expect([...bytes]).toEqual([0x15, 0, 2, 1, 0x3e, 0, 0, 0xc0]);
  });
});
