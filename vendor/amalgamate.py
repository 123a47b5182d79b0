#!/usr/bin/env python3
"""make dist: cas.h with every vendored source it includes inlined -> one self-contained header.

    python3 vendor/amalgamate.py cas.h > dist/cas.h

Each `#include "..."` line (a preprocessor line, outside comments) that names a file of
vendor/, relative to the including file's directory as the compiler resolves it, is replaced
by that file's text, recursively and every time it occurs: the vendored headers' own include
guards then behave exactly as with the real #include, and preprocessor conditionals around
an include stay around its text (CAS_BLAKE3_EXTERNAL's "blake3.h" is not vendor/'s and stays
an #include). Nothing else changes, so the one translation unit compiles to the same code.
The vendored licences and the inputs' SHA-256 are appended as comments. The `#pragma GCC system_header` of the vendored glue, which in the
split form covers only the vendored files, covers the rest of dist/cas.h from there on:
GCC and clang report no warnings for the implementation's code after it.
"""
import hashlib
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))  # vendor/
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def in_vendor(path):
    return os.path.commonpath([os.path.abspath(path), HERE]) == HERE


def strip_comments_state(line, in_comment):
    """Whether a /* comment is open after `line` (strings and // comments respected)."""
    i, n = 0, len(line)
    while i < n:
        if in_comment:
            j = line.find("*/", i)
            if j < 0:
                return True
            in_comment, i = False, j + 2
        elif line.startswith("//", i):
            return False
        elif line.startswith("/*", i):
            in_comment, i = True, i + 2
        elif line[i] in "\"'":
            q, i = line[i], i + 1
            while i < n and line[i] != q:
                i += 2 if line[i] == "\\" else 1
            i += 1
        else:
            i += 1
    return in_comment


def expand(path, out, used):
    base = os.path.dirname(os.path.abspath(path))
    in_comment = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = None if in_comment else INCLUDE.match(line)
            target = m and os.path.join(base, m.group(1))
            if target and in_vendor(target) and os.path.isfile(target):
                rel = os.path.relpath(target, os.path.dirname(HERE))
                used.setdefault(rel, target)
                out.append("/* ---- begin %s (inlined by vendor/amalgamate.py) ---- */\n" % rel)
                expand(target, out, used)
                out.append("/* ---- end %s ---- */\n" % rel)
                continue
            out.append(line if line.endswith("\n") else line + "\n")
            in_comment = strip_comments_state(line, in_comment)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: vendor/amalgamate.py cas.h > dist/cas.h")
    top = sys.argv[1]
    body, used = [], {}
    expand(top, body, used)
    root = os.path.dirname(HERE)
    head = ["/* dist/cas.h: cas.h with its vendored sources inlined (make dist, vendor/amalgamate.py):\n",
            "   one file, nothing beside it. Generated: edit cas.h and vendor/ instead (inputs at the end). */\n"]
    lic = ["\n/* ==== inputs of this file (SHA-256) ====\n",
           "     %s  cas.h\n" % sha256(top)]
    lic += ["     %s  %s\n" % (sha256(p), rel) for rel, p in sorted(used.items())]
    lic.append("*/\n\n/* ==== licences of the inlined vendored code ==== */\n")
    for name in ("blake3/LICENSE", "zstd/LICENSE"):
        with open(os.path.join(HERE, name), encoding="utf-8") as f:
            text = f.read().replace("*/", "* /")
        lic.append("/* vendor/%s:\n\n%s*/\n" % (name, text))
    if any(INCLUDE.match(l) and in_vendor(os.path.join(root, INCLUDE.match(l).group(1))) for l in body):
        sys.exit("amalgamate.py: a vendor/ include is left")
    sys.stdout.write("".join(head + body + lic))


if __name__ == "__main__":
    main()
