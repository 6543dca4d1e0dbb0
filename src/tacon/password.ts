/**
 * Where `tacon authentication` gets the password: never argv (visible in ps).
 * TACON_PASSWORD, else --password-stdin (first line of stdin), else a prompt without echo.
 */
import { stdin, stderr } from "node:process";

export class PasswordUnavailable extends Error {}

async function firstLineOfStdin(): Promise<string> {
  let text = "";
  for await (const chunk of stdin) {
    text += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk as Uint8Array);
    const newline = text.indexOf("\n");
    if (newline >= 0) return text.slice(0, newline).replace(/\r$/, "");
  }
  return text;
}

async function promptWithoutEcho(prompt: string): Promise<string> {
  if (!stdin.isTTY) throw new PasswordUnavailable("no terminal to prompt for the password: use --password-stdin or TACON_PASSWORD");
  stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = "";
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString("utf8")) {
          if (char === "\r" || char === "\n") return done(() => resolve(typed));
          if (char === "\u0003") return done(() => reject(new PasswordUnavailable("cancelled")));
          if (char === "\u007f" || char === "\b") typed = typed.slice(0, -1);
          else typed += char;
        }
      };
      const done = (settle: () => void) => {
        stdin.off("data", onData);
        settle();
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    stderr.write("\n");
  }
}

export async function readPassword(fromStdin: boolean, env: Record<string, string | undefined>): Promise<string> {
  if (env.TACON_PASSWORD !== undefined) return env.TACON_PASSWORD;
  if (fromStdin) return firstLineOfStdin();
  return promptWithoutEcho("Password: ");
}
