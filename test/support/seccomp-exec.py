#!/usr/bin/python3
"""Runs a program under a seccomp allow-list, as systemd's SystemCallFilter= does (issue 20).

    seccomp-exec.py ALLOWED_FILE FAMILIES -- PROGRAM [ARGS...]

ALLOWED_FILE: system call names, one per line (the expansion of the unit's SystemCallFilter=).
FAMILIES: comma-separated socket address families socket() may create (RestrictAddressFamilies=),
e.g. 1,2,10 for AF_UNIX, AF_INET, AF_INET6. Any other call fails with EPERM
(SystemCallErrorNumber=EPERM); calls of a foreign architecture kill the process
(SystemCallArchitectures=native). Names this libseccomp does not know are reported on stderr.
"""
import errno
import os
import sys

import seccomp

allowed_file, families, separator, *program = sys.argv[1:]
if separator != "--" or not program:
    sys.exit(__doc__)
names = sorted({line.strip() for line in open(allowed_file) if line.strip()})
rules = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.EPERM))
unknown = []
for name in names:
    try:
        if name == "socket":
            for family in families.split(","):
                rules.add_rule(seccomp.ALLOW, name, seccomp.Arg(0, seccomp.EQ, int(family)))
        else:
            rules.add_rule(seccomp.ALLOW, name)
    except (RuntimeError, ValueError, OSError):
        unknown.append(name)
if unknown:
    print(f"seccomp-exec: not known to libseccomp here: {' '.join(unknown)}", file=sys.stderr)
rules.load()
os.execv(program[0], program)
