/** The first argument that makes the multi-call binary the session launcher (src/session/launcher.ts). */
export const LAUNCHER_FLAG = "--tacacs-session-launcher";
