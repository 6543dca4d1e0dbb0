/**
 * Replays the client halves of real captures (/work/shared/captures, key labkey123: pam_tacplus and
 * tactester) against the proxy, byte for byte, and checks each reply against the captured server's:
 * same session id, seq_no and status (the test server has the captures' policy), same flags but
 * never SINGLE_CONNECT.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { decodePacket, Flags, replyStatus } from "../../src/protocol";
import { LegacyConnection } from "../support/legacy-client";
import { readTacacsFlows } from "../support/pcapng";
import { LAB_KEY, startProxyStack, type ProxyStack } from "../support/proxy-stack";

const CAPTURES = "/work/shared/captures";
/** Per file, per connection: "type:status" of each reply, as documented in the captures' README. */
const FILES: [string, string[]][] = [
  ["pam_tacplus-pap-to-tac_plus.pcapng", ["1:1", "2:1", "3:1", "3:1", "1:2"]], // PASS, PASS_ADD, SUCCESS ×2, FAIL
  ["pam_tacplus-ascii-to-tac_plus.pcapng", ["1:5,1:1", "1:5,1:2"]], // GETPASS → PASS, GETPASS → FAIL
  // tactester asks for single-connect (session id 0, one session per connection here): the proxy
  // answers alike but never grants it; the last ASCII login used a wrong password against tac_plus-ng.
  ["tactester-to-tac_plus.pcapng", ["2:1", "2:16", "3:1", "1:1", "1:5,1:1"]],
  ["tactester-to-tac_plus-ng.pcapng", ["2:1", "2:16", "3:1", "1:1", "1:5,1:2"]],
];
const key = new TextEncoder().encode(LAB_KEY);

let stack: ProxyStack;
beforeAll(async () => {
  stack = await startProxyStack();
});
afterAll(() => stack?.stop());

describe.each(FILES)("%s", (file, expected) => {
  const path = `${CAPTURES}/${file}`;
  test("every connection's replies match the captured server's", async () => {
    expect(existsSync(path)).toBe(true);
    const flows = readTacacsFlows(path);
    const seen: string[] = [];
    for (const flow of flows) {
      const statuses: string[] = [];
      expect(flow.server.length).toBe(flow.client.length);
      const connection = await LegacyConnection.open(stack.proxy.endpoint);
      try {
        for (const [index, request] of flow.client.entries()) {
          connection.write(request);
          const frame = await connection.next(3000);
          if (frame === "closed") throw new Error(`${flow.clientEndpoint}: proxy closed before reply ${index + 1}`);
          const ours = decodePacket(frame, key);
          const captured = decodePacket(flow.server[index]!, key);
          expect(ours.header).toMatchObject({
            sessionId: captured.header.sessionId,
            seqNo: captured.header.seqNo,
            type: captured.header.type,
            version: captured.header.version,
            flags: captured.header.flags & ~Flags.SingleConnect,
          });
          const status = replyStatus(ours.header.type, ours.body);
          expect(status).toBe(replyStatus(captured.header.type, captured.body));
          statuses.push(`${ours.header.type}:${status}`);
        }
        seen.push(statuses.join(","));
        expect(await connection.closedByPeer(2000)).toBe(true);
      } finally {
        connection.close();
      }
    }
    expect(seen).toEqual(expected);
  });
});
