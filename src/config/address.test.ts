import { describe, expect, test } from "bun:test";
import { parseEndpoint, parseServerAddress, sameEndpoint } from "./address";
import { ConfigError } from "./errors";

describe("server addresses", () => {
  const accepted: [string, [string, number]][] = [
    ["tacacs.example.com", ["tacacs.example.com", 49]],
    ["tacacs.example.com:449", ["tacacs.example.com", 449]],
    ["192.0.2.2", ["192.0.2.2", 49]],
    ["192.0.2.2:4949", ["192.0.2.2", 4949]],
    ["[2001:db8::1]:300", ["2001:db8::1", 300]],
    ["[2001:db8::1]", ["2001:db8::1", 49]],
    ["2001:db8::1", ["2001:db8::1", 49]],
    ["localhost", ["localhost", 49]],
    ["tacacs", ["tacacs", 49]],
  ];
  for (const [text, expected] of accepted) {
    test(text, () => {
      const { host, port } = parseServerAddress(text, 49, "--server-addr");
      expect([host, port]).toEqual(expected);
    });
  }

  for (const text of ["", ":49", "host:", "host:65536", "-host.example", "host_name.example", "999.1.1.1", "[::1]x", "[::1]:", "a..b"]) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      expect(() => parseServerAddress(text, 49, "--server-addr")).toThrow(ConfigError);
    });
  }
});

describe("endpoints", () => {
  test("absolute paths are Unix sockets, normalised", () => {
    expect(parseEndpoint("/run/tacacs//x/../tacacs.sock", "--listen-endpoint")).toEqual({ kind: "unix", path: "/run/tacacs/tacacs.sock" });
  });

  test("loopback TCP endpoints, including port 0 (ephemeral)", () => {
    expect(parseEndpoint("127.0.0.1:9049", "e")).toEqual({ kind: "tcp", host: "127.0.0.1", port: 9049 });
    expect(parseEndpoint("127.1.2.3:0", "e")).toEqual({ kind: "tcp", host: "127.1.2.3", port: 0 });
    expect(parseEndpoint("[::1]:9049", "e")).toEqual({ kind: "tcp", host: "::1", port: 9049 });
    expect(parseEndpoint("[::ffff:127.0.0.1]:9049", "e")).toEqual({ kind: "tcp", host: "::ffff:127.0.0.1", port: 9049 });
    expect(parseEndpoint("LOCALHOST:9049", "e")).toEqual({ kind: "tcp", host: "127.0.0.1", port: 9049 });
  });

  test("non-loopback TCP endpoints are refused", () => {
    for (const text of ["0.0.0.0:1", "[::]:1", "10.0.0.1:1", "128.0.0.1:1", "[::2]:1", "[::ffff:10.0.0.1]:1", "localhost.example.com:1", "tacacs:1"]) {
      expect(() => parseEndpoint(text, "--proxy-endpoint")).toThrow("is not a loopback address");
    }
  });

  test("sameEndpoint", () => {
    const unix = { kind: "unix", path: "/a" } as const;
    const tcp = { kind: "tcp", host: "127.0.0.1", port: 1 } as const;
    expect(sameEndpoint(unix, { kind: "unix", path: "/a" })).toBe(true);
    expect(sameEndpoint(unix, { kind: "unix", path: "/b" })).toBe(false);
    expect(sameEndpoint(unix, tcp)).toBe(false);
    expect(sameEndpoint(tcp, unix)).toBe(false);
    expect(sameEndpoint(tcp, { ...tcp })).toBe(true);
    expect(sameEndpoint({ ...tcp, port: 0 }, { ...tcp, port: 0 })).toBe(false);
  });
});
