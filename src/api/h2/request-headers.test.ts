import { expect, test } from "bun:test";
import type { HeaderField } from "./hpack";
import { checkTrailers, MalformedRequest, requestHeaders } from "./request-headers";

const BASE: HeaderField[] = [
  [":method", "POST"],
  [":scheme", "http"],
  [":path", "/svc/M"],
];

test("a valid request: fields by name, repeated regular fields joined", () => {
  const headers = requestHeaders([...BASE, [":authority", "x"], ["te", "trailers"], ["x-a", "1"], ["x-a", "2"], ["content-length", "12"]]);
  expect({ ...headers }).toEqual({ ":method": "POST", ":scheme": "http", ":path": "/svc/M", ":authority": "x", te: "trailers", "x-a": "1, 2", "content-length": "12" });
});

test("malformed requests (RFC 9113 §8.2, §8.3) are refused with a specific reason", () => {
  const cases: Array<[HeaderField[], string]> = [
    [[...BASE, [":status", "200"]], "unknown pseudo-header :status"],
    [[...BASE, [":path", "/again"]], "repeated pseudo-header :path"],
    [[["x", "1"], ...BASE], "after a regular field"],
    [BASE.filter(([name]) => name !== ":method"), "missing pseudo-header :method"],
    [[...BASE.filter(([name]) => name !== ":path"), [":path", ""]], "missing pseudo-header :path"],
    [[[":method", "CONNECT"], [":authority", "x"]], "CONNECT"],
    [[...BASE, ["Content-Type", "a"]], "invalid field name"],
    [[...BASE, ["x y", "a"]], "invalid field name"],
    [[...BASE, ["x", "a\u0000b"]], "invalid value of field x"],
    [[...BASE, ["x", " padded"]], "invalid value of field x"],
    [[...BASE, ["x", "a\r\nb"]], "invalid value of field x"],
    [[...BASE, ["transfer-encoding", "chunked"]], "connection-specific field transfer-encoding"],
    [[...BASE, ["te", "gzip"]], 'te other than "trailers"'],
    [[...BASE, ["content-length", "-1"]], "malformed content-length"],
  ];
  for (const [fields, reason] of cases) {
    let caught: unknown;
    try {
      requestHeaders(fields);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MalformedRequest);
    expect((caught as Error).message).toContain(reason);
  }
});

test("trailers carry no pseudo-headers; a field found valid once stays valid, an invalid one never is", () => {
  expect(() => checkTrailers([["x", "1"]])).not.toThrow();
  expect(() => checkTrailers([[":path", "/"]])).toThrow("pseudo-header :path in trailers");
  const bad: HeaderField = ["x", "a\u0000"];
  expect(() => checkTrailers([bad])).toThrow(MalformedRequest);
  expect(() => checkTrailers([bad])).toThrow(MalformedRequest);
});
