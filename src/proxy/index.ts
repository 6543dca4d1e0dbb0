/** The TACACS+ proxy service: a packet-transparent local listener in front of the upstream engine. */
export { startProxy } from "./listener";
export { ProxyConfigError, type ProxyLimits, type ProxyOptions, type ProxyServer } from "./types";
