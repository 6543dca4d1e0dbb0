/**
 * Entry point of the multi-call binary: `tacon`, `tacacs-session` (also as a login shell,
 * "-tacacs-session") or `tacacsrs-audit-plugin` when invoked by that name, the session launcher
 * when given LAUNCHER_FLAG, else the daemon.
 */
import { basename } from "node:path";
import { errorMessage } from "./common/error-message";
import { LAUNCHER_FLAG } from "./session/launcher-flag";

declare const BUILD_VERSION: string | undefined;
declare const BUILD_COMMIT: string | undefined;

const build = {
  version: typeof BUILD_VERSION === "string" ? BUILD_VERSION : "dev",
  commit: typeof BUILD_COMMIT === "string" ? BUILD_COMMIT : "dev",
  features: ["tls", "psk"],
  runtime: `bun ${Bun.version}`,
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const env = process.env as Record<string, string | undefined>;
  const argv0 = basename(process.argv0 || process.argv[0] || "");
  // A login shell is started as "-name" (login(1), sshd).
  const invokedAs = argv0.replace(/^-/, "");
  // Each personality loads only its own modules: tacon needs no engine, the daemon no HTTP/2 client.
  const run =
    invokedAs === "tacon" && args[0] === "pam"
      ? // pam_exec(8) starts it for every PAM phase of every login: it loads none of tacon's CLI.
        import("./tacon/pam").then(({ runPam }) => runPam(args.slice(1), env))
      : invokedAs === "tacon"
      ? import("./tacon").then(({ runTacon }) => runTacon(args, env))
      : args[0] === LAUNCHER_FLAG
        ? import("./session/launcher").then(({ runLauncher }) => runLauncher(args[1]))
        : invokedAs === "tacacs-session"
          ? import("./session").then(({ runSession }) => runSession(args, env, argv0.startsWith("-")))
          : invokedAs === "tacacsrs-audit-plugin"
            ? import("./audit-plugin").then(({ runAuditPlugin }) => runAuditPlugin(args))
            : import("./daemon").then(({ runDaemon }) => runDaemon(args, env, build));
  const code = await run.catch((error: unknown) => {
    process.stderr.write(`${invokedAs}: internal error: ${errorMessage(error)}\n`);
    return 70;
  });
  // Exit once output is flushed, even if a closed socket's handle lingers in the event loop.
  process.exitCode = code;
  setTimeout(() => process.exit(code), 100).unref();
}

void main();
