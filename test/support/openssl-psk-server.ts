/**
 * `openssl s_server` as a TLS 1.3 external-PSK peer on 127.0.0.1 (ephemeral port, read back
 * from its "ACCEPT host:port" line). Its stdout is kept for assertions; its stdin stays open
 * (in echo-less mode a line "K" makes it send a KeyUpdate with update_requested).
 */
export interface OpensslPskServer {
  port: number;
  /** Everything s_server printed so far. */
  output(): string;
  /** Writes a line to s_server's stdin. */
  send(line: string): void;
  /** Resolves once the output contains `text`, rejects after `timeoutMs`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  stop(): void;
}

export async function startOpensslPskServer(options: {
  keyHex: string;
  identity: string;
  /** Extra s_server arguments, e.g. ["-rev"], ["-allow_no_dhe_kex"], ["-groups", "secp256r1"]. */
  args: readonly string[];
  /** PEM files of a server certificate; without one the server runs with -nocert (PSK only). */
  certificate?: { certPath: string; keyPath: string };
}): Promise<OpensslPskServer> {
  const credentials = options.certificate ? ["-cert", options.certificate.certPath, "-key", options.certificate.keyPath] : ["-nocert"];
  const child = Bun.spawn(
    ["openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_3", ...credentials, "-psk", options.keyHex, "-psk_identity", options.identity, ...options.args],
    { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
  );
  let output = "";
  const waiters: { text: string; resolve(): void }[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>): Promise<void> => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true });
      for (const waiter of waiters.filter((w) => output.includes(w.text))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  void collect(child.stdout);
  void collect(child.stderr);

  const server: OpensslPskServer = {
    port: 0,
    output: () => output,
    send(line) {
      child.stdin.write(`${line}\n`);
      child.stdin.flush();
    },
    waitFor(text, timeoutMs = 3_000) {
      if (output.includes(text)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`s_server did not print ${JSON.stringify(text)}:\n${output}`)), timeoutMs);
        waiters.push({ text, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    stop() {
      child.kill();
    },
  };
  try {
    await server.waitFor("ACCEPT");
    await Bun.sleep(0);
    const port = /ACCEPT \S*:(\d+)/.exec(output)?.[1];
    if (!port) throw new Error(`s_server printed no port:\n${output}`);
    server.port = Number(port);
    return server;
  } catch (error) {
    child.kill();
    throw error;
  }
}
