/**
 * A loopback port whose connects never complete, for connect-timeout tests.
 * A python3 listener with backlog 0 never calls accept(); one filler connection fills its accept
 * queue, after which Linux drops further SYNs, so a connect hangs until the caller's timeout.
 * (Bun and node:net accept automatically, hence the tiny python3 helper.)
 */
import { connect, type Socket } from "node:net";

const LISTENER = [
  "import socket, sys",
  "s = socket.socket()",
  "s.bind(('127.0.0.1', 0))",
  "s.listen(0)",
  "print(s.getsockname()[1], flush=True)",
  "sys.stdin.read()", // lives until the test closes stdin or kills it
].join("\n");

export interface UnansweredPort {
  host: string;
  port: number;
  stop(): void;
}

export async function startUnansweredPort(): Promise<UnansweredPort> {
  const child = Bun.spawn(["python3", "-I", "-S", "-c", LISTENER], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const line = await readLine(child.stdout);
  const port = Number(line);
  if (!Number.isInteger(port) || port <= 0) {
    child.kill();
    throw new Error(`unanswered-port helper printed ${JSON.stringify(line)}`);
  }
  const filler = await fill(port);
  return {
    host: "127.0.0.1",
    port,
    stop() {
      filler.destroy();
      child.kill();
    },
  };
}

function fill(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => resolve(socket));
    socket.on("error", reject);
  });
}

async function readLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return text.trim();
}
