#!/usr/bin/env python3
"""Generate the glue that compiles the vendored BLAKE3 and zstd sources inside cas.h's one
translation unit, without editing them.

    python3 vendor/wrap.py            (run by vendor/update.sh after it refreshes the sources)

Writes, next to this script:
  cas_blake3.inc / cas_blake3_end.inc   BLAKE3: every file-scope name renamed into cas__b3_* /
                                        cas__blake3_*; each ISA file in its own target region
                                        with its file-local names renamed per tier; cross-tier
                                        prototypes inside a region redirected to a trampoline
                                        compiled in that region; the _end file #undefs every
                                        macro the sources and the renaming defined.
  cas_zstd.inc / cas_zstd_end.inc       zstd decoder: every external symbol (from `nm` of the
                                        compiled amalgamation) renamed to cas__zstd_*; the _end
                                        file #undefs the amalgamation's macros.
Why: one TU with no -m flags (per-function targets), no symbol leaves the object file unless
it starts with cas_, and no vendored macro leaks into the user's code after cas.h.
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
B3 = os.path.join(HERE, "blake3")
ZSTD = os.path.join(HERE, "zstd")

# ISA file -> (tier name, target string or None, guard expression)
ISA_FILES = [
    ("blake3_portable.c", "portable", None, "1"),
    ("blake3_sse2.c", "sse2", "sse2", "defined(IS_X86) && !defined(BLAKE3_NO_SSE2)"),
    ("blake3_sse41.c", "sse41", "sse4.1", "defined(IS_X86) && !defined(BLAKE3_NO_SSE41)"),
    ("blake3_avx2.c", "avx2", "avx2", "defined(IS_X86) && !defined(BLAKE3_NO_AVX2)"),
    ("blake3_avx512.c", "avx512", "avx512f,avx512vl",
     "defined(IS_X86) && !defined(BLAKE3_NO_AVX512)"),
    ("blake3_neon.c", "neon", None, "BLAKE3_USE_NEON == 1"),
]
COMMON_FILES = ["blake3.h", "blake3_impl.h", "blake3.c", "blake3_dispatch.c"]


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def strip_comments(src):
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", " ", src)


def code_only(src):
    """Comments and preprocessor lines removed (for declaration scanning)."""
    src = strip_comments(src)
    src = re.sub(r"\\\n", " ", src)
    return "\n".join(l for l in src.split("\n") if not l.lstrip().startswith("#"))


def defined_macros(src):
    src = re.sub(r"\\\n", " ", strip_comments(src))
    return sorted(set(re.findall(r"^\s*#\s*define\s+([A-Za-z_]\w*)", src, flags=re.M)))


def file_scope_names(src):
    """Names of static/INLINE functions and variables, enum tags/constants, typedefs."""
    code = code_only(src)
    names = set()
    for m in re.finditer(r"^(?:static|INLINE)\b[^;{(=]*?\b([A-Za-z_]\w*)\s*\(", code, flags=re.M):
        names.add(m.group(1))
    for m in re.finditer(r"^static\b[^;{(=]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*=", code, flags=re.M):
        names.add(m.group(1))
    for m in re.finditer(r"\benum\s+(\w+)\s*\{([^}]*)\}", code):
        names.add(m.group(1))
        for item in m.group(2).split(","):
            item = item.strip()
            if item:
                names.add(re.match(r"\w+", item).group(0))
    for m in re.finditer(r"\btypedef\s+struct\s*\w*\s*\{[^}]*\}\s*(\w+)\s*;", code):
        names.add(m.group(1))
    return names


def prefixed_names(src):
    return set(re.findall(r"\b(blake3_\w+)\b", code_only(src)))


def defined_functions(src):
    code = code_only(src)
    return set(re.findall(r"\b(\w+)\s*\([^;{]*\)\s*\{", code))


def prototypes(src):
    """(name, return type, params) of file-scope prototypes (declarations ending in ';')."""
    code = code_only(src)
    out = []
    for m in re.finditer(r"^(void|size_t)\s+(blake3_\w+)\s*\(([^;{]*?)\)\s*;", code, flags=re.M | re.S):
        out.append((m.group(2), m.group(1), " ".join(m.group(3).split())))
    return out


def param_names(params):
    names = []
    for p in params.split(","):
        p = re.sub(r"\[[^\]]*\]", "", p).strip()
        names.append(re.findall(r"\w+", p)[-1])
    return ", ".join(names)


# Vendored code is compiled as-is: its own warnings (and zstd's later #define of three names
# we rename, e.g. FSE_isError) are not ours to fix, so the glue marks itself a system header,
# which silences them in the files it includes, for gcc and clang alike.
SYSTEM_HEADER = ["#if defined(__GNUC__) || defined(__clang__)", "#pragma GCC system_header", "#endif"]


def region(target, open_):
    if target is None:
        return []
    if open_:
        return ["#if defined(__clang__)",
                '#pragma clang attribute push(__attribute__((target("%s"))), apply_to = function)' % target,
                "#elif defined(__GNUC__)",
                "#pragma GCC push_options",
                '#pragma GCC target("%s")' % target,
                "#endif"]
    return ["#if defined(__clang__)", "#pragma clang attribute pop",
            "#elif defined(__GNUC__)", "#pragma GCC pop_options", "#endif"]


def gen_blake3():
    sources = {f: read(os.path.join(B3, f)) for f in COMMON_FILES + [f for f, *_ in ISA_FILES]}
    version = re.search(r'BLAKE3_VERSION_STRING "([^"]+)"', sources["blake3.h"]).group(1)
    common_names = set()
    for f in COMMON_FILES:
        common_names |= file_scope_names(sources[f])
    prefixed = set()
    for text in sources.values():
        prefixed |= prefixed_names(text)
    global_map = {n: "cas__" + n for n in sorted(prefixed)}
    for n in sorted(common_names - prefixed):
        global_map[n] = "cas__b3_" + n

    head = ["/* Generated by vendor/wrap.py from vendor/blake3 (BLAKE3 %s). Do not edit. */" % version,
            "/* Every vendored name is renamed into the cas__ space while the sources compile. */"]
    head += SYSTEM_HEADER
    head += ["#if defined(__GNUC__) || defined(__clang__)",
             "#define CAS__B3_UNUSED __attribute__((unused)) /* a tier's fallback may go unused */",
             "#else", "#define CAS__B3_UNUSED", "#endif"]
    head += ["#define %s %s" % kv for kv in sorted(global_map.items())]
    head += ['#include "blake3/blake3.h"', '#include "blake3/blake3_impl.h"',
             '#include "blake3/blake3.c"',
             # BLAKE3 1.3.1 caches the detected CPU features in a plain global that every
             # thread's first hash writes: a data race (ThreadSanitizer reports it; BLAKE3
             # 1.4 made it atomic). The dispatcher is compiled from an edited copy that reads
             # and writes it as a relaxed atomic where the compiler has them.
             "#if defined(__ATOMIC_RELAXED)",
             "#define CAS__B3_LOAD(v) __atomic_load_n(&(v), __ATOMIC_RELAXED)",
             "#define CAS__B3_STORE(v, x) __atomic_store_n(&(v), (x), __ATOMIC_RELAXED)",
             "#else", "#define CAS__B3_LOAD(v) (v)", "#define CAS__B3_STORE(v, x) ((v) = (x))",
             "#endif",
             '#include "cas_blake3_dispatch.inc"']
    common_macros = set()
    for f in COMMON_FILES:
        common_macros |= set(defined_macros(sources[f]))

    for fname, tier, target, guard in ISA_FILES:
        src = sources[fname]
        local = sorted(file_scope_names(src) - set(global_map))
        defined = defined_functions(src)
        fwd = [p for p in prototypes(src) if p[0] not in defined] if target else []
        body = ["", "/* ---- %s (%s) ---- */" % (fname, target or "no target attribute"),
                "#if %s" % guard]
        body += ["#define %s cas__b3_%s_%s" % (n, tier, n) for n in local]
        body += region(target, True)
        for name, ret, params in fwd:
            # A prototype of another tier's function inside a target region would give that
            # function this region's target (gcc) or fail to build (clang): point it at a
            # trampoline compiled in this region instead.
            tramp = "cas__b3_%s_fwd_%s" % (tier, name)
            body += ["static CAS__B3_UNUSED %s %s(%s);" % (ret, tramp, params),
                     "#undef %s" % name, "#define %s %s" % (name, tramp)]
        body.append('#include "blake3/%s"' % fname)
        for name, ret, params in fwd:
            tramp = "cas__b3_%s_fwd_%s" % (tier, name)
            body += ["#undef %s" % name, "#define %s %s" % (name, global_map[name]),
                     "static CAS__B3_UNUSED %s %s(%s) {" % (ret, tramp, params),
                     "    %s%s(%s);" % ("return " if ret != "void" else "", name, param_names(params)),
                     "}"]
        body += region(target, False)
        body += ["#undef %s" % n for n in local]
        body += ["#undef %s" % m for m in defined_macros(src) if m not in common_macros]
        body.append("#endif")
        head += body

    end = ["/* Generated by vendor/wrap.py. Do not edit. Ends the BLAKE3 section of cas.h. */"]
    end += ["#undef %s" % n for n in sorted(global_map)]
    end += ["#undef %s" % m for m in sorted(common_macros)]
    end += ["#undef CAS__B3_UNUSED", "#undef CAS__B3_LOAD", "#undef CAS__B3_STORE"]
    write("cas_blake3.inc", head)
    write("cas_blake3_end.inc", end)
    write("cas_blake3_dispatch.inc", dispatch(sources["blake3_dispatch.c"]))


# blake3_dispatch.c as cas.h compiles it, in C and C++, line for line (no #line: gcovr could
# not find a "blake3/blake3_dispatch.c" and dropped the whole coverage report): the cached CPU features read and written through
# CAS__B3_LOAD/STORE (relaxed atomics, see above), and casts where the file builds its
# cpu_feature mask with `features |= SSE2` and `= 0` (C++ has no implicit int -> enum
# conversion; C does not mind them). Each edit must match exactly as often as expected, so a
# changed upstream file stops this script instead of slipping through.
DISPATCH_EDITS = [
    (r'^#include "blake3_impl\.h"$', '#include "blake3/blake3_impl.h"', 1),
    (r"^(\s*)if \(g_cpu_features != UNDEFINED\) \{$",
     r"\1if (CAS__B3_LOAD(g_cpu_features) != UNDEFINED) {", 1),
    (r"^(\s*)return g_cpu_features;$", r"\1return CAS__B3_LOAD(g_cpu_features);", 1),
    (r"^(\s*)g_cpu_features = features;$", r"\1CAS__B3_STORE(g_cpu_features, features);", 1),
    (r"\benum cpu_feature features = 0;", "enum cpu_feature features = (enum cpu_feature)0;", 1),
    (r"\bfeatures \|= (\w+);", r"features = (enum cpu_feature)(features | \1);", 8),
    (r"^(\s*)return 0;$", r"\1return (enum cpu_feature)0;", 1),
]


def dispatch(src):
    for pattern, repl, count in DISPATCH_EDITS:
        src, n = re.subn(pattern, repl, src, flags=re.M)
        if n != count:
            sys.exit("wrap.py: blake3_dispatch.c: %r matched %d times, not %d" % (pattern, n, count))
    return (["/* Generated by vendor/wrap.py from vendor/blake3/blake3_dispatch.c: the CPU-feature",
             "   cache as a relaxed atomic, casts from int to enum cpu_feature for C++. Do not edit. */"]
            + SYSTEM_HEADER + src.rstrip("\n").split("\n"))


def system_macros(headers):
    with tempfile.TemporaryDirectory() as d:
        c = os.path.join(d, "s.c")
        with open(c, "w") as f:
            f.write("".join("#include <%s>\n" % h for h in headers))
        out = subprocess.run(["cc", "-dM", "-E", c], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"^#define (\w+)", out, flags=re.M))


def gen_zstd():
    path = os.path.join(ZSTD, "zstddeclib.c")
    src = read(path)
    with tempfile.TemporaryDirectory() as d:
        obj = os.path.join(d, "z.o")
        subprocess.run(["cc", "-O1", "-c", path, "-o", obj], check=True)
        nm = subprocess.run(["nm", "-g", "--defined-only", obj], capture_output=True, text=True,
                            check=True).stdout
    symbols = sorted(set(line.split()[-1] for line in nm.splitlines() if line.strip()))
    headers = sorted(set(re.findall(r"^\s*#\s*include\s*<([^>]+)>", src, flags=re.M)) -
                     {"intrin.h", "arm_neon.h", "cet.h", "immintrin.h", "emmintrin.h"})
    sysm = system_macros([h for h in headers if os.path.exists("/usr/include/" + h) or h in
                          ("stddef.h", "limits.h", "stdint.h", "stdalign.h", "stdarg.h")])
    all_macros = [m for m in defined_macros(src) if m not in sysm]
    macros = [m for m in all_macros if not m.startswith("__")]
    # Reserved names (__has_feature...) zstd defines only when the compiler lacks them: undo
    # exactly those it defined, never the compiler's own.
    reserved = [m for m in all_macros if m.startswith("__")]
    head = ["/* Generated by vendor/wrap.py from vendor/zstd/zstddeclib.c. Do not edit. */",
            "/* External symbols are renamed into the cas__ space while the decoder compiles. */"]
    head += SYSTEM_HEADER
    head += ["#define %s cas__zstd_%s" % (s, s) for s in symbols]
    # A symbol the amalgamation #undefs before defining it (ZSTD_isError: "defined within
    # zstd_internal.h") escapes the renaming; a static prototype first keeps it internal.
    code = code_only(src)
    for sym in symbols:
        if re.search(r"^\s*#\s*undef\s+%s\b" % sym, src, flags=re.M):
            m = re.search(r"^([A-Za-z_][\w \t\*]*?)\b%s\s*\(([^)]*)\)\s*\{" % sym, code, flags=re.M)
            if not m:
                sys.exit("wrap.py: cannot find the definition of %s" % sym)
            head += ["#undef %s" % sym,
                     "static %s %s(%s);" % (" ".join(m.group(1).split()), sym, " ".join(m.group(2).split())),
                     "#define %s cas__zstd_%s" % (sym, sym)]
    for m in reserved:
        head += ["#if !defined(%s)" % m, "#define CAS__ZSTD_DEFINES%s" % m, "#endif"]
    head += ['#include "zstd/zstddeclib.c"']
    end = ["/* Generated by vendor/wrap.py. Do not edit. Ends the zstd section of cas.h. */"]
    end += ["#undef %s" % s for s in symbols]
    end += ["#undef %s" % m for m in macros]
    for m in reserved:
        end += ["#if defined(CAS__ZSTD_DEFINES%s)" % m, "#undef %s" % m,
                "#undef CAS__ZSTD_DEFINES%s" % m, "#endif"]
    write("cas_zstd.inc", head)
    write("cas_zstd_end.inc", end)


def write(name, lines):
    with open(os.path.join(HERE, name), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote vendor/%s (%d lines)" % (name, len(lines)))


if __name__ == "__main__":
    gen_blake3()
    if "--no-zstd" not in sys.argv:
        gen_zstd()
