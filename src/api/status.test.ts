import { expect, test } from "bun:test";
import { decodeGrpcMessage, encodeGrpcMessage, formatGrpcTimeout, GrpcError, parseGrpcTimeout, Status, statusName } from "./status";

test("grpc-message percent-encodes '%', controls and non-ASCII, and round-trips", () => {
  expect(encodeGrpcMessage("plain text: ok")).toBe("plain text: ok");
  expect(encodeGrpcMessage("100% done\n")).toBe("100%25 done%0A");
  expect(encodeGrpcMessage("héllo")).toBe("h%C3%A9llo");
  for (const text of ["100% done\n", "héllo ✓", "a%zz", ""]) expect(decodeGrpcMessage(encodeGrpcMessage(text))).toBe(text);
  // A malformed escape is kept as is rather than failing.
  expect(decodeGrpcMessage("50%Z done")).toBe("50%Z done");
});

test("grpc-timeout units", () => {
  expect(parseGrpcTimeout("2H")).toBe(7_200_000);
  expect(parseGrpcTimeout("3M")).toBe(180_000);
  expect(parseGrpcTimeout("5S")).toBe(5000);
  expect(parseGrpcTimeout("250m")).toBe(250);
  expect(parseGrpcTimeout("1500u")).toBe(1.5);
  expect(parseGrpcTimeout("99999999n")).toBeCloseTo(99.999999);
  for (const bad of ["", "5", "S", "123456789m", "5s", "-5m", "5.5S", "5 m"]) {
    expect(() => parseGrpcTimeout(bad)).toThrow(GrpcError);
  }
  expect(formatGrpcTimeout(1234.2)).toBe("1235m");
  expect(formatGrpcTimeout(200_000_000)).toBe("200000S");
  expect(parseGrpcTimeout(formatGrpcTimeout(5000))).toBe(5000);
});

test("status names", () => {
  expect(statusName(Status.RESOURCE_EXHAUSTED)).toBe("RESOURCE_EXHAUSTED");
  expect(statusName(99)).toBe("CODE_99");
});
