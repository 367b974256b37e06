#!/usr/bin/env python3
"""Reads a zip the page saved and prints what the browser tests check, as
JSON: every entry's name, kind, Unix mode, owner (Info-ZIP field 0x7875),
size and sha256 (a symlink's: its target), the CRC test's verdict, and the
report's text. With --quick, file bodies are CRC-checked but not hashed
and listed (for multi-GB zips).

usage: zipcheck.py ZIP [--quick]
"""
import hashlib
import json
import stat
import struct
import sys
import zipfile


def owner(extra):
    """uid, gid from the Info-ZIP Unix field 0x7875 (version 1), or None."""
    at = 0
    while at + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4 : at + 4 + size]
        at += 4 + size
        if tag != 0x7875 or len(body) < 3 or body[0] != 1:
            continue
        uid_len = body[1]
        uid = int.from_bytes(body[2 : 2 + uid_len], "little")
        gid_len = body[2 + uid_len]
        gid = int.from_bytes(body[3 + uid_len : 3 + uid_len + gid_len], "little")
        return uid, gid
    return None


def main():
    path = sys.argv[1]
    quick = "--quick" in sys.argv[2:]
    out = {"entries": [], "report": None, "bad": None}
    with zipfile.ZipFile(path) as z:
        out["bad"] = z.testzip()
        for info in z.infolist():
            mode = info.external_attr >> 16
            kind = "dir" if stat.S_ISDIR(mode) else "symlink" if stat.S_ISLNK(mode) else "file"
            row = {
                "name": info.filename,
                "kind": kind,
                "mode": stat.S_IMODE(mode),
                "size": info.file_size,
                "owner": owner(info.extra),
                "utf8_flag": bool(info.flag_bits & 0x800),
            }
            if kind != "dir" and (not quick or info.file_size < (1 << 20)):
                h = hashlib.sha256()
                with z.open(info) as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                row["sha256"] = h.hexdigest()
                if kind == "symlink":
                    row["target"] = z.read(info).decode("utf-8", "surrogateescape")
            if info.filename == "SALVAGE-REPORT.txt":
                out["report"] = z.read(info).decode("utf-8", "replace")
            out["entries"].append(row)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
