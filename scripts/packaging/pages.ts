/**
 * tacacsrs-agentd(8) and tacon(1): the options, environment and exit statuses come from the
 * definitions `--help` renders; only the prose around them is written here.
 */
import { CONFIG_FILE_NOTE, DESCRIPTION, ENVIRONMENT, EXIT_STATUS, FLAGS } from "../../src/config/definition";
import { ARGS as AUDIT_PLUGIN_ARGS } from "../../src/audit-plugin/index";
import { DEFAULT_CONFIG_FILE, SESSION_ARGS } from "../../src/session/options";
import { ARGS as TACON_ARGS, COMMANDS, EXIT, SUMMARY as TACON_SUMMARY } from "../../src/tacon/index";
import type { ManPage } from "./manpage";

export function agentManPage(version: string, date: string): ManPage {
  return {
    name: "tacacsrs-agentd",
    section: 8,
    date,
    version,
    summary: DESCRIPTION,
    synopsis: ["--server-addr ADDR [--server-addr ADDR]... [OPTIONS]", "--config FILE [OPTIONS]"],
    description: [
      "tacacsrs-agentd keeps persistent TACACS+ connections (RFC 8907; TLS 1.3 per RFC 9887) to an ordered list of upstream servers, the first preferred, and fails over to the next when a server stops answering. Local programs reach it through a gRPC API on a Unix socket (see tacon(1)) and, with --proxy-endpoint, through a packet-transparent TACACS+ proxy for legacy clients such as pam_tacplus.",
      "It runs as the systemd service tacacsrs-agentd.service (Type=notify), which reads its flags from TACACSRS_AGENTD_ARGS in the environment file. SIGHUP reloads the configuration and keeps the old one when the new one is bad; SIGTERM drains the requests in flight.",
      "Secrets never need to be on the command line: each has a file form, a systemd credential and an environment variable.",
    ],
    options: FLAGS,
    sections: [
      { title: "Environment", items: ENVIRONMENT, paragraphs: [CONFIG_FILE_NOTE.replaceAll("\n", " ")] },
      {
        title: "Credentials",
        paragraphs: [
          "When systemd passes credentials (LoadCredential= in the unit, $CREDENTIALS_DIRECTORY in the environment), a credential named shared-secret, psk-key or proxy-shared-secret is read like the file form of that flag. A flag or its file form wins over a credential, a credential over the environment variable.",
        ],
      },
      { title: "Exit status", items: EXIT_STATUS },
      {
        title: "Files",
        items: [
          ["/etc/default/tacacsrs-agentd, /etc/sysconfig/tacacsrs-agentd", "the environment file of the service (Debian, RPM): TACACSRS_AGENTD_ARGS and the secrets; root-owned, mode 0640"],
          ["/etc/tacacs/", "YANG documents and key files, readable by the tacacs group"],
          ["/run/tacacs/tacacs.sock", "the default API socket"],
          ["/usr/share/doc/tacacsrs-agentd/examples/", "example YANG documents for --config"],
        ],
      },
      { title: "See also", paragraphs: ["tacon(1), systemd.exec(5), systemd-creds(1), RFC 8907, RFC 9887, RFC 9105"] },
    ],
  };
}

export function taconManPage(version: string, date: string): ManPage {
  return {
    name: "tacon",
    section: 1,
    date,
    version,
    summary: TACON_SUMMARY.replace(/\.$/, ""),
    synopsis: COMMANDS.map(([name, operands]) => `[OPTIONS] ${name}${operands ? ` ${operands}` : ""}`),
    description: [
      "tacon is the command-line client of tacacsrs-agentd(8): it sends one request to the agent's gRPC API and prints the reply. The agent does the TACACS+ work: connections, secrets, TLS and failover.",
      "Members of the tacacs group may use the agent's socket.",
    ],
    options: TACON_ARGS,
    sections: [
      { title: "Commands", items: COMMANDS.map(([name, operands, text]) => [`${name}${operands ? ` ${operands}` : ""}`, text] as const) },
      { title: "Environment", items: [["TACON_PASSWORD", "the password for authentication, when --password-stdin is not given"]] },
      {
        title: "Exit status",
        items: [
          [String(EXIT.ok), "PASS or SUCCESS"],
          [String(EXIT.denied), "FAIL: denied"],
          [String(EXIT.usage), "usage error"],
          [String(EXIT.error), "the agent is unreachable or answered with an error; the message says whether a retry may help"],
        ],
      },
      { title: "See also", paragraphs: ["tacacsrs-agentd(8)"] },
    ],
  };
}

export function auditPluginManPage(version: string, date: string): ManPage {
  return {
    name: "tacacsrs-audit-plugin",
    section: 8,
    date,
    version,
    summary: "auditd plugin: TACACS+ accounting of every command of TACACS+ logins",
    synopsis: ["[OPTIONS]", "NAME=VALUE[,NAME=VALUE]..."],
    description: [
      "tacacsrs-audit-plugin is started by auditd (plugins.d, format = string) and reads audit records on standard input. For each exec in a TACACS+ login session it sends one accounting record (service=shell, cmd, cmd-arg) through tacacsrs-agentd(8), which delivers it with its failover and TLS.",
      "auditd passes a plugin at most two arguments, so each option may also be written NAME=VALUE, several separated by commas, e.g. args = service-endpoint=/run/tacacs/tacacs.sock,fallback-min-uid=1000.",
      "It never blocks auditd: events wait in a bounded queue (--max-queue) and what is dropped is counted; tacon status shows the counters.",
    ],
    options: AUDIT_PLUGIN_ARGS,
    sections: [
      { title: "Exit status", items: [["0", "end of input or SIGTERM"], ["2", "usage error"]] },
      {
        title: "Files",
        items: [
          ["/etc/audit/plugins.d/tacacsrs-agentd.conf", "the plugin's auditd configuration, shipped with active = no"],
          ["/etc/audit/rules.d/tacacsrs-agentd.rules", "the exec rules (key tacacsrs-exec), shipped commented out"],
        ],
      },
      { title: "See also", paragraphs: ["tacacsrs-agentd(8), tacon(1), auditd(8), auditd-plugins(5), augenrules(8)"] },
    ],
  };
}

export function sessionManPage(version: string, date: string): ManPage {
  return {
    name: "tacacs-session",
    section: 8,
    date,
    version,
    summary: "run a login shell whose every command is authorized and accounted by TACACS+",
    synopsis: ["[OPTIONS] [-c COMMAND | -- PROGRAM [ARGS]...]"],
    description: [
      "tacacs-session runs the user's real shell (--shell) under a seccomp filter that holds every execve and execveat of the session's process tree, asks tacacsrs-agentd(8) for a TACACS+ authorization (service=shell, cmd=the resolved absolute path, one cmd-arg per argument) and lets the program run or makes its exec fail with EACCES and one line on standard error. An authorized command is accounted: START before it runs, STOP with elapsed_time and status when it ends.",
      `It is meant to be the login shell of TACACS+ users or sshd's ForceCommand. A login shell gets no flags of its own, so the settings come from ${DEFAULT_CONFIG_FILE} (flags, # comments); flags on the command line come after the file's.`,
      "This is command authorization and accounting for ordinary sessions, not a sandbox: see the README's Command authorization section for its limits.",
    ],
    options: SESSION_ARGS,
    sections: [
      { title: "Exit status", items: [["N", "the shell's exit status"], ["2", "usage error"], ["126", "the session could not be supervised; nothing ran"]] },
      { title: "Files", items: [[DEFAULT_CONFIG_FILE, "the settings (root-owned)"]] },
      { title: "See also", paragraphs: ["tacacsrs-agentd(8), tacon(1), sshd_config(5), seccomp_unotify(2)"] },
    ],
  };
}
