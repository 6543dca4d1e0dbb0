import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unixAddress as notifyAddress } from "../common/unix-datagram";
import { sdNotify } from "./sd-notify";

let dir = "";
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

test("without NOTIFY_SOCKET nothing is sent", () => {
  expect(sdNotify("READY=1", {})).toBe(false);
});

test("abstract and file socket addresses", () => {
  const abstract = notifyAddress("@sd");
  expect([...abstract.address.subarray(2, 5)]).toEqual([0, 0x73, 0x64]);
  expect(abstract.length).toBe(5);
  expect(notifyAddress("/run/x").length).toBe(2 + 6 + 1);
});

test("READY=1 reaches a Unix datagram socket, as systemd would receive it", async () => {
  dir = mkdtempSync(join(tmpdir(), "sdnotify-"));
  const path = join(dir, "notify");
  // A receiver we did not write: Python's socket module.
  const receiver = Bun.spawn(
    ["/usr/bin/python3", "-c", `import socket,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); print("bound", flush=True)
s.settimeout(5); print(s.recv(256).decode(), flush=True)`, path],
    { stdout: "pipe", stderr: "inherit" },
  );
  const reader = receiver.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  expect(first).toContain("bound");
  expect(sdNotify("READY=1\nSTATUS=serving", { NOTIFY_SOCKET: path })).toBe(true);
  let received = "";
  while (!received.includes("STATUS=serving")) {
    const chunk = await reader.read();
    if (chunk.done) break;
    received += new TextDecoder().decode(chunk.value);
  }
  expect(received).toContain("READY=1\nSTATUS=serving");
  expect(await receiver.exited).toBe(0);
});
