/**
 * A TLS 1.3 server that behaves like tac_plus-ng: on each socket-readable event it reads exactly
 * one TACACS+ packet (12-byte header, then the body length from bytes 8..11, RFC 8907 §4.1) and
 * never looks at what its TLS library already decrypted. Packets that share one TLS record with
 * the packet it read therefore wait until more bytes arrive on the socket: a client that merges
 * packets into one record sees replies hang. (python3's ssl module is OpenSSL, as in tac_plus-ng.)
 *
 * With `backendPort` each packet is forwarded to a plain TCP server (one backend connection per
 * TLS connection) and its replies are relayed back; without, each packet is echoed.
 *
 *   const server = await startOnePacketTlsServer({ certPath, keyPath, backendPort });
 *   ... connect with TLS to server.port ...; server.packets() → packets read so far
 *   server.stop();
 */
const SERVER = String.raw`
import select, socket, ssl, struct, sys
cert, key, backend_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.minimum_version = ssl.TLSVersion.TLSv1_3
context.load_cert_chain(cert, key)
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print(listener.getsockname()[1], flush=True)
peers = {}  # socket -> the other side (TLS client <-> backend, or None when echoing)
clients = set()

def drop(sock):
    other = peers.pop(sock, None)
    clients.discard(sock)
    sock.close()
    if other is not None:
        peers.pop(other, None)
        clients.discard(other)
        other.close()

def read_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data

while True:
    readable, _, _ = select.select([listener, sys.stdin] + list(peers), [], [])
    for sock in readable:
        if sock is sys.stdin:
            sys.exit(0)
        if sock is listener:
            raw, _ = listener.accept()
            try:
                client = context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                raw.close()
                continue
            backend = socket.create_connection(("127.0.0.1", backend_port)) if backend_port else None
            peers[client] = backend
            clients.add(client)
            if backend is not None:
                peers[backend] = client
            continue
        try:
            if sock in clients:
                header = read_exactly(sock, 12)  # one packet per readable event, like tac_plus-ng
                packet = header + read_exactly(sock, struct.unpack(">I", header[8:12])[0])
                print("packet", flush=True)
                (peers[sock] or sock).sendall(packet)
            else:
                data = sock.recv(65536)
                if not data:
                    raise EOFError
                peers[sock].sendall(data)
        except (EOFError, OSError, ssl.SSLError):
            drop(sock)
`;

export interface OnePacketTlsServer {
  host: string;
  port: number;
  /** Packets read so far, over all connections. */
  packets(): number;
  stop(): void;
}

export async function startOnePacketTlsServer(options: {
  certPath: string;
  keyPath: string;
  backendPort?: number;
}): Promise<OnePacketTlsServer> {
  const child = Bun.spawn(
    ["python3", "-I", "-S", "-c", SERVER, options.certPath, options.keyPath, String(options.backendPort ?? 0)],
    { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
  );
  let packets = 0;
  const lines = readLines(child.stdout);
  const first = await lines.next();
  const port = Number(first.value);
  if (first.done || !Number.isInteger(port) || port <= 0) {
    child.kill();
    throw new Error(`one-packet TLS server did not start (printed ${JSON.stringify(first.value)})`);
  }
  (async () => {
    for await (const line of lines) if (line === "packet") packets++;
  })();
  return {
    host: "127.0.0.1",
    port,
    packets: () => packets,
    stop: () => child.kill(),
  };
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
}
