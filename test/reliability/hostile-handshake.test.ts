/**
 * Issue 19, item 3 (API): connection slots held by clients that never finish the HTTP/2
 * handshake. 512 connections (the default --max-api-connections) that send nothing or drip the
 * preface one byte at a time: the old agent reset every new connection meanwhile; now the oldest
 * connection that has not completed a request makes room for a new one.
 */
import { afterEach, expect, test } from "bun:test";
import { agentUnderAttack, RawH2, rssKiB, startChecker, successRate } from "../support/hostile-client";
import { PREFACE } from "./h2-frames";

const SECRET = "hostile-handshake-19";
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

test("silent and dripping connections at --max-api-connections do not lock out new callers", async () => {
  const { agent, api } = await agentUnderAttack(SECRET, cleanups);
  const before = rssKiB(agent.process.pid);
  const silent = await Promise.all(Array.from({ length: 400 }, () => RawH2.open(agent.socket)));
  const dripping = await Promise.all(Array.from({ length: 112 }, () => RawH2.open(agent.socket)));
  cleanups.push(() => [...silent, ...dripping].forEach((raw) => raw.close()));
  let at = 0;
  const drip = setInterval(() => {
    const byte = PREFACE.subarray(at % PREFACE.length, (at % PREFACE.length) + 1);
    at++;
    for (const raw of dripping) void raw.write(byte);
  }, 150);
  cleanups.push(() => clearInterval(drip));
  await Bun.sleep(200);
  const checker = startChecker(api);
  await Bun.sleep(2500);
  const result = await checker.stop();
  clearInterval(drip);
  const closed = [...silent, ...dripping].filter((raw) => raw.closed).length;
  console.log(`handshake hogs: ${closed} of 512 closed to make room, checker ${result.ok} ok / ${result.failed} failed ${result.errors.slice(0, 2).join("; ")}`);
  expect(successRate(result)).toBeGreaterThanOrEqual(0.95);
  expect(closed).toBeGreaterThan(0);
  expect(rssKiB(agent.process.pid) - before).toBeLessThan(64 * 1024);
}, 30_000);
