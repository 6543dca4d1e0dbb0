import { expect, test } from "bun:test";
import { ptr } from "bun:ffi";
import { realpathSync } from "node:fs";
import { currentAbi } from "./abi";
import { MAX_COUNTED_ARGS, readExecTarget, TargetError } from "./exec-target";

// The reader is pointed at this process's own memory: an execve(path, argv) that never happens.
const native = currentAbi()!.archs[0]!;
const encoder = new TextEncoder();
const strings: Uint8Array[] = []; // kept alive while their addresses are in use
const cString = (text: string): number => {
  const bytes = encoder.encode(`${text}\0`);
  strings.push(bytes);
  return ptr(bytes);
};
const argvAt = (args: string[]): number => {
  const array = new BigUint64Array(args.length + 1);
  args.forEach((arg, i) => (array[i] = BigInt(cString(arg))));
  strings.push(new Uint8Array(array.buffer));
  return ptr(array);
};
const execve = (path: number, argv: number) => ({ id: 1n, pid: process.pid, nr: native.execve, arch: native.auditArch, args: [BigInt(path), BigInt(argv), 0n, 0n, 0n, 0n] });

test("path resolved (symlinks, relative to the cwd), arguments after argv[0] kept with their length", () => {
  const long = "é".repeat(200);
  const target = readExecTarget(execve(cString("/bin/true"), argvAt(["true", "-x", long, ""])), native, false);
  expect(target.path).toBe(realpathSync("/bin/true"));
  expect(target.argc).toBe(3);
  expect(target.args.map((a) => a.length)).toEqual([2, 257, 0]); // longer than kept: 256 + 1
  expect(new TextDecoder().decode(target.args[0]!.bytes)).toBe("-x");
  expect(target.args[1]!.bytes.length).toBe(256);
  const relative = readExecTarget(execve(cString("package.json"), argvAt(["x"])), native, false);
  expect(relative.path).toBe(realpathSync("package.json"));
});

test("an argv longer than a read block: every argument counted, the kept ones bounded", () => {
  const args = Array.from({ length: 300 }, (_, i) => `a${i}`);
  const target = readExecTarget(execve(cString("/bin/true"), argvAt(["true", ...args])), native, false);
  expect(target.argc).toBe(300);
  expect(target.args.length).toBe(256);
  expect(new TextDecoder().decode(target.args[255]!.bytes)).toBe("a255");
  expect(MAX_COUNTED_ARGS).toBeGreaterThan(300);
});

test("a NULL argv runs with no arguments; bad addresses and missing files fail with the kernel's errno", () => {
  expect(readExecTarget(execve(cString("/bin/true"), 0), native, false)).toMatchObject({ argc: 0, args: [] });
  const failure = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      return error instanceof TargetError ? error.errno : error;
    }
    return "no error";
  };
  expect(failure(() => readExecTarget(execve(8, 0), native, false))).toBe(14); // EFAULT
  expect(failure(() => readExecTarget(execve(cString("/bin/true"), 8), native, false))).toBe(14);
  expect(failure(() => readExecTarget(execve(cString("/nonexistent-p18"), 0), native, false))).toBe(2); // ENOENT
  expect(failure(() => readExecTarget({ ...execve(cString("/bin/true"), 0), pid: 0x3fff_fff0 }, native, false))).toBe(3); // ESRCH
});
