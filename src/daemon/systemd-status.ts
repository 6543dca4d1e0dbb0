/**
 * The one-line state systemd shows in `systemctl status` (sd_notify STATUS=), from the engine's
 * failover state: the same truth the health service and the metrics tell.
 */
import type { EngineStatus } from "../upstream/types";

export function statusLine(status: EngineStatus): string {
  const active = status.servers[status.activeServer]?.name ?? "no server";
  switch (status.state) {
    case "PreferredActive":
      return `serving via ${active}`;
    case "FailedOver":
      return `serving via ${active} (failed over)`;
    case "NoResponsiveServer":
      return "no responsive upstream server";
  }
}
