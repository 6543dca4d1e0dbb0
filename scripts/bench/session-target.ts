/**
 * What reading a held exec costs the session's listener worker (issue 18): readExecTarget of an
 * execve("/bin/true", ["true", "-x"]) pointed at this process's own memory, hot, µs per call.
 *   bun scripts/bench/session-target.ts [calls=20000]
 */
import { ptr } from "bun:ffi";
import { currentAbi } from "../../src/session/abi";
import { readExecTarget } from "../../src/session/exec-target";

const calls = Number(process.argv[2] ?? 20_000);
const native = currentAbi()!.archs[0]!;
const encoder = new TextEncoder();
const path = encoder.encode("/bin/true\0");
const words = ["true", "-x"].map((word) => encoder.encode(`${word}\0`));
const argv = new BigUint64Array([...words.map((word) => BigInt(ptr(word))), 0n]);
// The notification holds raw addresses: the buffers must stay reachable until the end.
const alive: ArrayBufferView[] = [path, ...words, argv];
const notification = { id: 1n, pid: process.pid, nr: native.execve, arch: native.auditArch, args: [BigInt(ptr(path)), BigInt(ptr(argv)), 0n, 0n, 0n, 0n] };
for (let i = 0; i < 2000; i++) readExecTarget(notification, native, false);
const started = performance.now();
for (let i = 0; i < calls; i++) readExecTarget(notification, native, false);
alive.length = 0;
console.log(`readExecTarget: ${(((performance.now() - started) * 1000) / calls).toFixed(1)} µs per held exec (${calls} calls)`);
