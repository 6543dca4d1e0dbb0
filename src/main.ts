/**
 * Entry point of the multi-call binary: `tacon` when invoked by that name, else the daemon.
 */
import { basename } from "node:path";

declare const BUILD_VERSION: string | undefined;
declare const BUILD_COMMIT: string | undefined;

export const buildInfo = {
  version: typeof BUILD_VERSION === "string" ? BUILD_VERSION : "dev",
  commit: typeof BUILD_COMMIT === "string" ? BUILD_COMMIT : "dev",
};

const invokedAs = basename(process.argv0 || process.argv[0] || "");
if (invokedAs === "tacon") {
  console.log(`tacon ${buildInfo.version} (${buildInfo.commit})`);
} else {
  console.log(`tacacsrs-agentd ${buildInfo.version} (${buildInfo.commit})`);
}
