/**
 * systemd readiness notification (sd_notify(3)): one datagram to $NOTIFY_SOCKET. Without
 * NOTIFY_SOCKET (not started by systemd, or Type=simple) it does nothing.
 */
import { sendUnixDatagram } from "../common/unix-datagram";

/** Sends e.g. "READY=1" or "STOPPING=1"; returns false when not under systemd or on failure. */
export function sdNotify(state: string, env: Record<string, string | undefined> = process.env): boolean {
  const socketPath = env.NOTIFY_SOCKET;
  if (!socketPath) return false;
  return sendUnixDatagram(socketPath, new TextEncoder().encode(state));
}
