/** RFC 8907 constants: header values, body enums and flag bits. */

export const HEADER_LENGTH = 12;
/** Major version 0xc with minor 0 (default) or 1 (§5.4.1). */
export const VERSION_DEFAULT = 0xc0;
export const VERSION_ONE = 0xc1;
export const MAJOR_VERSION = 0xc;

/** Body size limits: the configurable default and the hard cap no configuration may exceed. */
export const MAX_BODY_LENGTH_DEFAULT = 65536;
export const MAX_BODY_LENGTH_CAP = 196356;

export enum PacketType {
  Authentication = 1,
  Authorization = 2,
  Accounting = 3,
}

/** Authorization and accounting arguments (§6.1): each length is one byte, at most 255 of them. */
export const MAX_ARG_LENGTH = 255;
export const MAX_ARG_COUNT = 255;

/** Header flags (§4.1). */
export const Flags = { Unencrypted: 0x01, SingleConnect: 0x04 } as const;

export enum AuthenAction {
  Login = 1,
  ChangePass = 2,
  SendAuth = 4,
}

export enum AuthenType {
  Ascii = 1,
  Pap = 2,
  Chap = 3,
  Arap = 4,
  MsChap = 5,
  MsChapV2 = 6,
}

export enum AuthenService {
  None = 0,
  Login = 1,
  Enable = 2,
  Ppp = 3,
  Pt = 5,
  Rcmd = 6,
  X25 = 7,
  Nasi = 8,
  FwProxy = 9,
}

export enum AuthenStatus {
  Pass = 1,
  Fail = 2,
  GetData = 3,
  GetUser = 4,
  GetPass = 5,
  Restart = 6,
  Error = 7,
  Follow = 0x21,
}

export enum AuthenMethod {
  NotSet = 0,
  None = 1,
  Krb5 = 2,
  Line = 3,
  Enable = 4,
  Local = 5,
  TacacsPlus = 6,
  Guest = 8,
  Radius = 0x10,
  Krb4 = 0x11,
  Rcmd = 0x20,
}

export enum AuthorStatus {
  PassAdd = 1,
  PassRepl = 2,
  Fail = 0x10,
  Error = 0x11,
  Follow = 0x21,
}

export enum AcctStatus {
  Success = 1,
  Error = 2,
  Follow = 0x21,
}

/** Accounting request flags (§7.2). */
export const AcctFlags = { Start: 0x02, Stop: 0x04, Watchdog: 0x08 } as const;

export const AuthenReplyFlags = { NoEcho: 0x01 } as const;
export const AuthenContinueFlags = { Abort: 0x01 } as const;
