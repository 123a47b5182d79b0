#!/usr/bin/env python3
"""hubserver.py -- TEST DOUBLE of the Hugging Face Hub + Xet CAS HTTP API, for cas.h tests.

NOT product code: loopback only, no persistence beyond the store directory, toy auth,
deliberate fault injection. Python 3.11 standard library only.

Serves, from a store directory (STORE/xorbs/<hash>[.xorb], STORE/shards/*):
  GET|HEAD /{repo}/resolve/{rev}/{path}            (also /datasets/..., /spaces/...) -> 302 + X-Xet-Hash
  GET      /api/{models|datasets|spaces}/{repo}/xet-{read|write}-token/{rev}
  GET      /v2/reconstructions/{file}   GET /v1/reconstructions/{file}   POST /v1/reconstructions
  HEAD     /v1/files/{file}             HEAD /v1/xorbs/default/{xorb}
  GET      /xorb/default/{xorb}?X-Xet-Signed-Range=..&Expires=..&Signature=..   (signed transfer URL)
  GET      /_bytes/{file}               (the Location of a resolve: the whole file, decoded here)
  POST     /v1/xorbs/default/{xorb}     POST /v1/shards     GET /v1/chunks/default-merkledb/{chunk}
  GET      /v2/file-chunk-hashes/{file} with X-Range-Dirty: bytes=A-B[,...] (api.md section 9:
           chunk-aligned windows over the dirty ranges and a MerkleHashSubtree per gap; config
           "fch_extend" extends each window to two stable-size chunks, as the Hub's server does)
  POST     /_control/fault {"name":..,"count":N}   POST /_control/reset   GET /_control/log
           GET /_control/faults   POST /_control/config {"url_ttl"|"token_ttl"|"max_ranges_per_url"|
           "no_v2"|"hf_token": value}   POST /_control/rescan (re-read the store directory)
Hash strings follow api.md "Converting Hashes to Strings" (each 8-byte LE word byte-reversed).

Repo files: --file TYPE/REPO[@REV]/PATH=FILEHASH (TYPE models|datasets|spaces; without @REV the
repo is two segments and REV is main; a REV with '/' is %2F-encoded), or --files F.json
{"TYPE/REPO[@REV]/PATH": "FILEHASH" | {"hash": FILEHASH}}.

Reconstructions: terms from the store's shards, trimmed to whole chunks for a Range; per xorb the
chunk ranges of all terms are merged (overlapping or adjacent coalesce), byte offsets come from
walking the xorb's chunk headers. v2: one signed URL per xorb (or per --max-ranges-per-url
ranges); v1: fetch_info, one entry per merged range. Signed URL = HMAC-SHA256(server secret,
path + signed ranges + Expires). The xorb GET needs a Range made of whole signed ranges.

Faults (--fault NAME[:COUNT] or POST /_control/fault; COUNT default 1, -1 unlimited, 0 clears;
each affected request uses one):
  xorb-429 xorb-500        xorb GET answers 429 (Retry-After: 0) / 500
  xorb-200                 xorb GET answers 200 with the whole xorb (a server that ignores Range)
  upload-ansi              POST /v1/xorbs answers 400 with raw terminal control sequences in the body
  recon-429 recon-500      GET /v1|v2/reconstructions and POST /v1/reconstructions answer 429 / 500
  xorb-drop                206 headers + half the body, then an abortive close (RST)
  xorb-truncate            Content-Length of the full body, all but the last 1/4 (<= 64 KiB) sent, FIN
  xorb-corrupt             one byte flipped in the middle of the first served chunk's payload
  recon-wrong-length       the first term's unpacked_length is one too big
  recon-offset             a lying manifest: offset_into_first_range one more than it is (a
                           whole-file answer that skips the first byte; verification must not
                           switch off)
  recon-drop-term          a lying manifest: the last term left out (a shorter file)
  recon-swap-terms         a lying manifest: the first two terms swapped
  fch-404                  GET /v2/file-chunk-hashes answers 404 (a server without the endpoint)
  fch-lie                  GET /v2/file-chunk-hashes: one node of the first non-empty gap subtree
                           flipped (range verification must fail)
  token-expired            the token endpoint issues an already expired token (CAS answers 401)
  token-401                the CAS answers 401 whatever the token (recon, batch, uploads, dedup)
  v2-404                   /v2/reconstructions answers 404 (clients fall back to v1)
  upload-429 upload-500    POST /v1/xorbs answers 429 (Retry-After: 0) / 500 (the body is read, not stored)
  shard-500                POST /v1/shards or /v2/shards answers 500 before looking at the shard
  dedup-merkledb-404       GET /v1/chunks/default-merkledb/.. answers 404 "no route" (only the
                           `default` prefix works, as on servers HF's TypeScript client talks to)
Config "shards_v2" (or --shards-v2): serve POST /v2/shards (NDJSON progress events, the outcome
in the terminal "result" or "error" event); without it /v2/shards answers 404 (clients fall back).
GET /_control/log: [{method, path, query, range, status, time, fault?}] (control requests excluded);
POST /_control/reset clears faults and log.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse

# --------------------------------------------------------------------------------------------
# hashes and hex convention

def hash_to_str(raw):
    return b"".join(raw[i:i + 8][::-1] for i in range(0, 32, 8)).hex()


def str_to_hash(s):
    raw = bytes.fromhex(s)
    return b"".join(raw[i:i + 8][::-1] for i in range(0, 32, 8))


HEX64 = re.compile(r"^[0-9a-f]{64}$")

# --------------------------------------------------------------------------------------------
# BLAKE3 (pure Python, keyed_hash and hash modes; BLAKE3 spec, 32-byte output)

_IV = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19)
_PERM = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
_CHUNK_START, _CHUNK_END, _PARENT, _ROOT, _KEYED_HASH = 1, 2, 4, 8, 16
_M32 = 0xFFFFFFFF


def _b3_schedules():
    s = [list(range(16))]
    for _ in range(6):
        s.append([s[-1][p] for p in _PERM])
    return s


_SCHED = _b3_schedules()


def _b3_compress(cv, m, counter, blen, flags):
    """BLAKE3 compression; returns the first 8 words of the output state."""
    v = [cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
         _IV[0], _IV[1], _IV[2], _IV[3], counter & _M32, (counter >> 32) & _M32, blen, flags]
    for s in _SCHED:
        for a, b, c, d, x, y in ((0, 4, 8, 12, s[0], s[1]), (1, 5, 9, 13, s[2], s[3]),
                                 (2, 6, 10, 14, s[4], s[5]), (3, 7, 11, 15, s[6], s[7]),
                                 (0, 5, 10, 15, s[8], s[9]), (1, 6, 11, 12, s[10], s[11]),
                                 (2, 7, 8, 13, s[12], s[13]), (3, 4, 9, 14, s[14], s[15])):
            va = (v[a] + v[b] + m[x]) & _M32
            vd = v[d] ^ va
            vd = ((vd >> 16) | (vd << 16)) & _M32
            vc = (v[c] + vd) & _M32
            vb = v[b] ^ vc
            vb = ((vb >> 12) | (vb << 20)) & _M32
            va = (va + vb + m[y]) & _M32
            vd = vd ^ va
            vd = ((vd >> 8) | (vd << 24)) & _M32
            vc = (vc + vd) & _M32
            vb = vb ^ vc
            vb = ((vb >> 7) | (vb << 25)) & _M32
            v[a], v[b], v[c], v[d] = va, vb, vc, vd
    return [v[i] ^ v[i + 8] for i in range(8)]


def _b3_chunk_cv(key_words, chunk, counter, flags, root):
    """CV of one chunk (<= 1024 bytes). If root, the chunk is the whole input: root output."""
    cv = list(key_words)
    nblocks = max(1, (len(chunk) + 63) // 64)
    for i in range(nblocks):
        block = chunk[i * 64:(i + 1) * 64]
        blen = len(block)
        m = struct.unpack("<16I", block.ljust(64, b"\0"))
        f = flags
        if i == 0:
            f |= _CHUNK_START
        if i == nblocks - 1:
            f |= _CHUNK_END
            if root:
                f |= _ROOT
        cv = _b3_compress(cv, m, counter, blen, f)
    return cv


def blake3(data, key=None):
    """BLAKE3 hash (key=None) or keyed_hash (key = 32 bytes) of data; 32-byte digest."""
    if key is None:
        kw, flags = _IV, 0
    else:
        assert len(key) == 32
        kw, flags = struct.unpack("<8I", key), _KEYED_HASH
    data = bytes(data)
    n = len(data)
    if n <= 1024:
        return struct.pack("<8I", *_b3_chunk_cv(kw, data, 0, flags, True))
    stack = []  # list of (cv, number of chunks below it); chunk-count stack per the spec
    nchunks = (n + 1023) // 1024
    for ci in range(nchunks):
        cv = _b3_chunk_cv(kw, data[ci * 1024:(ci + 1) * 1024], ci, flags, False)
        if ci == nchunks - 1:
            # merge everything down to the root
            while stack:
                left = stack.pop()
                m = struct.unpack("<16I", struct.pack("<8I", *left) + struct.pack("<8I", *cv))
                last = not stack
                cv = _b3_compress(kw, m, 0, 64, flags | _PARENT | (_ROOT if last else 0))
            return struct.pack("<8I", *cv)
        total = ci + 1
        while total & 1 == 0:  # merge completed subtrees
            left = stack.pop()
            m = struct.unpack("<16I", struct.pack("<8I", *left) + struct.pack("<8I", *cv))
            cv = _b3_compress(kw, m, 0, 64, flags | _PARENT)
            total >>= 1
        stack.append(cv)
    raise AssertionError("unreachable")


DATA_KEY = bytes([102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28, 157, 228,
                  33, 16, 155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41])
INTERNAL_NODE_KEY = bytes([1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230, 93,
                           221, 83, 111, 55, 199, 109, 210, 248, 99, 82, 230, 74, 83, 113, 63])


VERIFICATION_KEY = bytes([127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243,
                          164, 205, 38, 213, 181, 219, 73, 230, 65, 36, 152, 127, 40, 251, 148, 195])


def chunk_hash(data):
    return blake3(data, DATA_KEY)


def is_cut(h):
    """A node whose hash (u64 #3) is 0 mod 4 may end a group."""
    return h[24] & 3 == 0


def group_len(nodes, i, end):
    """next_merge_cut: the length of the group that starts at nodes[i] in nodes[i:end]. A group ends
    after the first node at in-group index >= 2 that is a cut, or at 9 nodes; a remaining list of
    <= 2 nodes is one group."""
    rest = end - i
    if rest <= 2:
        return rest
    stop = min(9, rest)
    for k in range(2, stop):
        if is_cut(nodes[i + k][0]):
            return k + 1
    return stop


def internal_node(group):
    buf = "".join("%s : %d\n" % (hash_to_str(h), ln) for h, ln in group).encode()
    return (blake3(buf, INTERNAL_NODE_KEY), sum(ln for _, ln in group))


def merkle_root(nodes):
    """xet-core aggregated_hashes xorb_hash: nodes = [(raw hash, length)]; raw root (zeros if empty)."""
    if not nodes:
        return bytes(32)
    nodes = list(nodes)
    while len(nodes) > 1:
        out, i, n = [], 0, len(nodes)
        while i < n:
            cut = group_len(nodes, i, n)
            out.append(internal_node(nodes[i:i + cut]))
            i += cut
        nodes = out
    return nodes[0][0]


# MerkleHashSubtree (xet-core merkle_hash_subtree.rs from_chunks), for the gaps of
# /v2/file-chunk-hashes: per level, the nodes whose grouping does not depend on what lies
# outside the range (between three cuts at valid group distances 3..7) are promoted to the next
# level; the unstable prefix and suffix stay. Checked against xet-core's WebAssembly build
# (tests/vectors/subtree.txt) by hubserver_selftest.py.
def _valid_gap(g):
    return 2 < g < 8


def _stable_start(nodes):
    prev2 = prev = None
    if len(nodes) < 3:
        return None
    for i, (h, _) in enumerate(nodes):
        if not is_cut(h):
            continue
        if prev is not None and prev2 is not None and _valid_gap(i - prev) and _valid_gap(prev - prev2):
            return prev + 1
        prev2, prev = prev, i
    return None


def _stable_end(nodes):
    next2 = nxt = None
    if len(nodes) < 3:
        return None
    for i in range(len(nodes) - 1, -1, -1):
        if not is_cut(nodes[i][0]):
            continue
        if nxt is not None and next2 is not None and _valid_gap(nxt - i) and _valid_gap(next2 - nxt):
            return nxt + 1
        next2, nxt = nxt, i
    return None


def _split_and_promote(nodes, at_start, at_end):
    """(prefix length, suffix length, promoted nodes)."""
    n = len(nodes)
    if n <= 1:
        return n, 0, []
    s = 0
    if not at_start:
        s = _stable_start(nodes)
        if s is None:
            return n, 0, []
    e = n
    if not at_end:
        r = _stable_end(nodes[s:])
        if r is None:
            return n, 0, []
        e = s + r
    if s >= e:
        return n, 0, []
    promoted, i = [], s
    while i < e:
        c = group_len(nodes, i, e)
        promoted.append(internal_node(nodes[i:i + c]))
        i += c
    return s, n - e, promoted


def subtree_from_chunks(at_start, chunks, at_end):
    """MerkleHashSubtree of chunks [(raw hash, size)] as its JSON form (nodes, levels, flags)."""
    lefts, rights, levels, cur, all_l, all_r = [], [], [], list(chunks), True, True
    while True:
        p, s, promoted = _split_and_promote(cur, at_start and all_l, at_end and all_r)
        lefts.append(cur[:p])
        rights.append(cur[len(cur) - s:])
        levels.append([p, s])
        all_l, all_r = all_l and p == 0, all_r and s == 0
        if not promoted:
            break
        if len(promoted) == 1:
            lefts.append(promoted)
            rights.append([])
            levels.append([1, 0])
            break
        cur = promoted
    nodes = [x for lv in lefts for x in lv] + [x for lv in reversed(rights) for x in lv]
    return {"nodes": [{"hash": hash_to_str(h), "size": n} for h, n in nodes], "levels": levels,
            "at_start": at_start, "at_end": at_end}


# --------------------------------------------------------------------------------------------
# xorb records and chunk decoding (LZ4 frame, BG4)

class FormatError(Exception):
    pass


def xorb_records(data):
    """Walk chunk records. Returns (offsets[n+1], headers[(scheme, clen, ulen)]). Stops at XETBLOB."""
    offs, hdrs, pos, n = [0], [], 0, len(data)
    while pos < n:
        if data[pos:pos + 7] == b"XETBLOB":
            break
        if pos + 8 > n:
            raise FormatError("truncated chunk header at %d" % pos)
        h = data[pos:pos + 8]
        clen = h[1] | (h[2] << 8) | (h[3] << 16)
        ulen = h[5] | (h[6] << 8) | (h[7] << 16)
        if h[0] != 0:
            raise FormatError("chunk %d: version %d" % (len(hdrs), h[0]))
        if pos + 8 + clen > n:
            raise FormatError("chunk %d: truncated payload" % len(hdrs))
        hdrs.append((h[4], clen, ulen))
        pos += 8 + clen
        offs.append(pos)
    return offs, hdrs


def lz4_block(src, out):
    """Decode one LZ4 block from src, appending to bytearray out (which may hold history)."""
    i, n = 0, len(src)
    while i < n:
        tok = src[i]
        i += 1
        lit = tok >> 4
        if lit == 15:
            while True:
                b = src[i]
                i += 1
                lit += b
                if b != 255:
                    break
        out += src[i:i + lit]
        i += lit
        if i >= n:
            break
        off = src[i] | (src[i + 1] << 8)
        i += 2
        ml = tok & 15
        if ml == 15:
            while True:
                b = src[i]
                i += 1
                ml += b
                if b != 255:
                    break
        ml += 4
        if off == 0 or off > len(out):
            raise FormatError("lz4: bad offset")
        start = len(out) - off
        if off >= ml:
            out += out[start:start + ml]
        else:
            for k in range(ml):
                out.append(out[start + k])


def lz4_frame(src):
    if src[:4] != b"\x04\x22\x4d\x18":
        raise FormatError("lz4: bad frame magic")
    flg = src[4]
    i = 6
    if flg & 8:
        i += 8
    if flg & 1:
        i += 4
    i += 1  # header checksum
    out = bytearray()
    while True:
        (bs,) = struct.unpack_from("<I", src, i)
        i += 4
        if bs == 0:
            break
        raw, bs = bs & 0x80000000, bs & 0x7FFFFFFF
        blk = src[i:i + bs]
        i += bs
        if raw:
            out += blk
        else:
            lz4_block(blk, out)
        if flg & 0x10:
            i += 4
    return bytes(out)


def bg4_ungroup(g):
    n = len(g)
    base, rem = divmod(n, 4)
    out = bytearray(n)
    pos = 0
    for k in range(4):
        sz = base + (1 if k < rem else 0)
        out[k::4] = g[pos:pos + sz]
        pos += sz
    return bytes(out)


def decode_chunk(scheme, payload, ulen):
    if scheme == 0:
        d = bytes(payload)
    elif scheme == 1:
        d = lz4_frame(payload)
    elif scheme == 2:
        d = bg4_ungroup(lz4_frame(payload))
    else:
        raise FormatError("unknown compression scheme %d" % scheme)
    if len(d) != ulen:
        raise FormatError("chunk decodes to %d bytes, header says %d" % (len(d), ulen))
    return d


# --------------------------------------------------------------------------------------------
# shards

SHARD_TAG = bytes.fromhex("48465265706f4d657461446174610055" "6967456a7b815783a5bdd95ccdd14aa9")
BOOKEND = b"\xff" * 32


def parse_shard(buf):
    """Returns (files, xorbs, footer). files: {file: {"terms": [(xorb, s, e, unpacked)],
    "sha256": str|None}}; xorbs: {xorb: {"chunks": [(chunk_hash_raw, byte_start, ulen)],
    "bytes_in_cas", "bytes_on_disk"}}; footer: dict or None."""
    if len(buf) < 48 or buf[:32] != SHARD_TAG:
        raise FormatError("shard: bad header tag")
    version, footer_size = struct.unpack_from("<QQ", buf, 32)
    if version != 2:
        raise FormatError("shard: header version %d" % version)
    end = len(buf)
    footer = None
    if footer_size:
        if footer_size != 200 or len(buf) < 48 + 200:
            raise FormatError("shard: footer_size %d" % footer_size)
        fo = len(buf) - footer_size
        f = struct.unpack_from("<9Q", buf, fo)
        if f[0] != 1:
            raise FormatError("shard: footer version %d" % f[0])
        footer = {"file_info_offset": f[1], "cas_info_offset": f[2], "hmac_key": bytes(buf[fo + 72:fo + 104]),
                  "creation": struct.unpack_from("<Q", buf, fo + 104)[0],
                  "expiry": struct.unpack_from("<Q", buf, fo + 112)[0]}
        end = fo
    pos = 48

    def need(k):
        if pos + k > end:
            raise FormatError("shard: truncated at %d" % pos)

    files = {}
    while True:
        need(48)
        h = bytes(buf[pos:pos + 32])
        if h == BOOKEND:
            pos += 48
            break
        flags, nent = struct.unpack_from("<II", buf, pos + 32)
        pos += 48
        terms = []
        need(48 * nent)
        for _ in range(nent):
            xh = hash_to_str(bytes(buf[pos:pos + 32]))
            _cf, unpacked, s, e = struct.unpack_from("<IIII", buf, pos + 32)
            if e <= s:
                raise FormatError("shard: empty chunk range")
            terms.append((xh, s, e, unpacked))
            pos += 48
        if flags & 0x80000000:
            need(48 * nent)
            pos += 48 * nent
        sha = None
        if flags & 0x40000000:
            need(48)
            sha = hash_to_str(bytes(buf[pos:pos + 32]))
            pos += 48
        files.setdefault(hash_to_str(h), {"terms": terms, "sha256": sha})
    xorbs = {}
    while True:
        need(48)
        h = bytes(buf[pos:pos + 32])
        if h == BOOKEND:
            pos += 48
            break
        _cf, nent, in_cas, on_disk = struct.unpack_from("<IIII", buf, pos + 32)
        pos += 48
        need(48 * nent)
        chunks = []
        for _ in range(nent):
            ch = bytes(buf[pos:pos + 32])
            bstart, ulen = struct.unpack_from("<II", buf, pos + 32)
            chunks.append((ch, bstart, ulen))
            pos += 48
        xorbs.setdefault(hash_to_str(h), {"chunks": chunks, "bytes_in_cas": in_cas, "bytes_on_disk": on_disk})
    return files, xorbs, footer


def u32(x):
    return struct.pack("<I", x)


def build_dedup_shard(xorb_list, hmac_key, expiry, now):
    """Global-dedup answer: empty file info section, CAS info of the given xorbs with chunk hashes
    keyed (keyed BLAKE3 with hmac_key) and a 200-byte footer carrying the key."""
    out = bytearray(SHARD_TAG + struct.pack("<QQ", 2, 200))
    out += BOOKEND + bytes(16)
    cas_off = len(out)
    for xh, info in xorb_list:
        out += str_to_hash(xh) + struct.pack("<IIII", 0, len(info["chunks"]), info["bytes_in_cas"],
                                             info["bytes_on_disk"])
        for ch, bstart, ulen in info["chunks"]:
            out += blake3(ch, hmac_key) + struct.pack("<II", bstart, ulen) + bytes(8)
    out += BOOKEND + bytes(16)
    fo = len(out)
    f = bytearray(200)
    struct.pack_into("<QQQ", f, 0, 1, 48, cas_off)
    struct.pack_into("<QQQQQQ", f, 24, fo, 0, fo, 0, fo, 0)  # empty lookup tables at the footer
    f[72:104] = hmac_key
    struct.pack_into("<QQ", f, 104, now, expiry)
    struct.pack_into("<Q", f, 192, fo)
    return bytes(out + f)


# --------------------------------------------------------------------------------------------
# store

class Store:
    def __init__(self, root):
        self.root = root
        self.lock = threading.Lock()
        self.files = {}       # file hash -> {"terms", "sha256"}
        self.xorb_paths = {}  # xorb hash -> path
        self.cas = {}         # xorb hash -> CAS info from shards
        self.chunk_index = {}  # raw chunk hash -> xorb hash
        self.layouts = {}     # path -> (mtime, size, offsets, headers)
        os.makedirs(os.path.join(root, "xorbs"), exist_ok=True)
        os.makedirs(os.path.join(root, "shards"), exist_ok=True)
        self.rescan()

    def rescan(self):
        xd, sd = os.path.join(self.root, "xorbs"), os.path.join(self.root, "shards")
        paths = {}
        for name in sorted(os.listdir(xd)):
            h = name[:-5] if name.endswith(".xorb") else name
            if HEX64.match(h):
                paths.setdefault(h, os.path.join(xd, name))
        files, cas = {}, {}
        for name in sorted(os.listdir(sd)):
            p = os.path.join(sd, name)
            if not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                buf = f.read()
            try:
                fl, xl, _ = parse_shard(buf)
            except (FormatError, struct.error) as e:
                log("shard %s ignored: %s" % (name, e))
                continue
            for k, v in fl.items():
                files.setdefault(k, v)
            for k, v in xl.items():
                cas.setdefault(k, v)
        with self.lock:
            self.xorb_paths, self.files, self.cas = paths, files, cas
            self.chunk_index = {}
            for xh, info in cas.items():
                for ch, _, _ in info["chunks"]:
                    self.chunk_index.setdefault(ch, xh)

    def xorb_path(self, h):
        with self.lock:
            return self.xorb_paths.get(h)

    def layout(self, h):
        """(offsets, headers, file size) of a stored xorb, or None."""
        p = self.xorb_path(h)
        if p is None:
            return None
        st = os.stat(p)
        with self.lock:
            c = self.layouts.get(p)
        if c and c[0] == st.st_mtime_ns and c[1] == st.st_size:
            return c[2], c[3], st.st_size
        with open(p, "rb") as f:
            data = f.read()
        offs, hdrs = xorb_records(data)
        with self.lock:
            self.layouts[p] = (st.st_mtime_ns, st.st_size, offs, hdrs)
        return offs, hdrs, st.st_size

    def read_xorb(self, h):
        p = self.xorb_path(h)
        if p is None:
            return None
        with open(p, "rb") as f:
            return f.read()

    def file(self, h):
        with self.lock:
            return self.files.get(h)

    def file_size(self, h):
        f = self.file(h)
        return None if f is None else sum(t[3] for t in f["terms"])


# --------------------------------------------------------------------------------------------
# server state

VERBOSE = False


def log(msg):
    if VERBOSE:
        sys.stderr.write("hubserver: %s\n" % msg)
        sys.stderr.flush()


FAULTS = ("xorb-429", "xorb-500", "recon-500", "recon-429", "xorb-drop", "xorb-truncate", "xorb-corrupt",
          "recon-wrong-length", "token-expired", "token-401", "v2-404", "upload-429", "upload-500",
          "shard-500", "dedup-merkledb-404", "recon-offset", "recon-drop-term", "recon-swap-terms",
          "fch-404", "fch-lie", "xorb-200", "upload-ansi")
# The faults that make a reconstruction answer lie (one is taken per answer).
RECON_LIES = ("recon-wrong-length", "recon-offset", "recon-drop-term", "recon-swap-terms")


class State:
    def __init__(self, args, store):
        self.args = args
        self.store = store
        self.lock = threading.Lock()
        self.faults = {}
        self.log = []
        self.tokens = {}  # access token -> {"exp", "scope", "repo"}
        self.secret = secrets.token_bytes(32)
        self.port = 0
        self.repo_files = {}  # (type, repo, rev, path) -> file hash
        self.dedup_key = secrets.token_bytes(32)

    def set_fault(self, name, count):
        if name not in FAULTS:
            raise ValueError("unknown fault %r (known: %s)" % (name, ", ".join(FAULTS)))
        with self.lock:
            if count == 0:
                self.faults.pop(name, None)
            else:
                self.faults[name] = count  # negative: unlimited

    def take(self, name):
        with self.lock:
            c = self.faults.get(name, 0)
            if c == 0:
                return False
            if c > 0:
                c -= 1
                if c == 0:
                    del self.faults[name]
                else:
                    self.faults[name] = c
            return True

    def take_first(self, names):
        """The first of names with a fault pending (one of it used), or None."""
        for n in names:
            if self.take(n):
                return n
        return None

    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def sign(self, path, rng, exp):
        msg = ("%s\n%s\n%d" % (path, rng, exp)).encode()
        return hmac.new(self.secret, msg, hashlib.sha256).hexdigest()

    def signed_url(self, xorb, ranges, exp):
        path = "/xorb/default/" + xorb
        rng = "bytes=" + ",".join("%d-%d" % r for r in ranges)
        q = urllib.parse.urlencode({"X-Xet-Signed-Range": rng, "Expires": str(exp),
                                    "Signature": self.sign(path, rng, exp)})
        return self.base() + path + "?" + q

    def issue_token(self, scope, repo):
        ttl = self.args.token_ttl
        exp = int(time.time()) + ttl
        if self.take("token-expired"):
            exp = int(time.time()) - 1
        tok = "xet_%s_%s" % (scope, secrets.token_hex(16))
        with self.lock:
            self.tokens[tok] = {"exp": exp, "scope": scope, "repo": repo}
        return tok, exp


class HTTPError(Exception):
    def __init__(self, status, msg="", headers=None, fault=None):
        super().__init__(msg)
        self.status, self.msg, self.headers, self.fault = status, msg, headers or {}, fault


# --------------------------------------------------------------------------------------------
# reconstruction

def parse_recon_range(h, size):
    """'bytes=A-B' / 'bytes=A-' / 'bytes=-N' -> (A, B) inclusive, clamped; raises 416 / 400."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", h or "")
    if not m or (m.group(1) == "" and m.group(2) == ""):
        raise HTTPError(400, "malformed Range header %r" % h)
    if m.group(1) == "":
        n = int(m.group(2))
        if n == 0 or size == 0:
            raise HTTPError(416, "unsatisfiable range", {"Content-Range": "bytes */%d" % size})
        return max(0, size - n), size - 1
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) else size - 1
    if a >= size:
        raise HTTPError(416, "range start %d >= file size %d" % (a, size), {"Content-Range": "bytes */%d" % size})
    if b < a:
        raise HTTPError(400, "range end before start")
    return a, min(b, size - 1)


def build_terms(state, file_hash, range_header):
    """Returns (offset_into_first_range, terms=[(xorb, s, e, unpacked)])."""
    f = state.store.file(file_hash)
    if f is None:
        raise HTTPError(404, "file %s not found" % file_hash)
    terms = f["terms"]
    size = sum(t[3] for t in terms)
    if range_header is None:
        return 0, list(terms)
    a, b = parse_recon_range(range_header, size)
    out, off0, pos = [], None, 0
    for xh, s, e, unpacked in terms:
        tstart, tend = pos, pos + unpacked  # [tstart, tend)
        pos = tend
        if tend <= a or tstart > b:
            continue
        lay = state.store.layout(xh)
        if lay is None:
            raise HTTPError(500, "xorb %s missing from the store" % xh)
        hdrs = lay[1]
        if e > len(hdrs):
            raise HTTPError(500, "term range past the end of xorb %s" % xh)
        cpos, ks, ke, kstart, klen = tstart, None, None, None, 0
        for i in range(s, e):
            cl = hdrs[i][2]
            cs, ce = cpos, cpos + cl
            cpos = ce
            if ce <= a or cs > b:
                continue
            if ks is None:
                ks, kstart = i, cs
            ke = i + 1
            klen += cl
        if ks is None:
            continue
        if off0 is None:
            off0 = a - kstart
        out.append((xh, ks, ke, klen))
    return off0 or 0, out


def merged_ranges(state, terms):
    """{xorb: [(chunk_start, chunk_end, byte_start, byte_end_inclusive)]} merged, ascending."""
    per = {}
    for xh, s, e, _ in terms:
        per.setdefault(xh, []).append((s, e))
    res = {}
    for xh, rs in per.items():
        lay = state.store.layout(xh)
        if lay is None:
            raise HTTPError(500, "xorb %s missing from the store" % xh)
        offs = lay[0]
        rs.sort()
        merged = []
        for s, e in rs:
            if e > len(offs) - 1:
                raise HTTPError(500, "term range past the end of xorb %s" % xh)
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        res[xh] = [(s, e, offs[s], offs[e] - 1) for s, e in merged]
    return res


def term_json(terms, lie=None):
    terms = list(terms)
    if lie == "recon-drop-term" and terms:
        terms.pop()
    if lie == "recon-swap-terms" and len(terms) >= 2:
        terms[0], terms[1] = terms[1], terms[0]
    out = []
    for i, (xh, s, e, n) in enumerate(terms):
        if lie == "recon-wrong-length" and i == 0:
            n += 1
        out.append({"hash": xh, "unpacked_length": n, "range": {"start": s, "end": e}})
    return out


def lie_offset(off, terms, lie):
    # offset_into_first_range must stay below the first term's length to parse
    if lie == "recon-offset" and terms and off + 1 < terms[0][3]:
        return off + 1
    return off


def recon_v2(state, file_hash, range_header, lie):
    off, terms = build_terms(state, file_hash, range_header)
    exp = int(time.time()) + state.args.url_ttl
    mr = merged_ranges(state, terms)
    k = state.args.max_ranges_per_url or 1 << 30
    xorbs = {}
    for xh, rs in mr.items():
        entries = []
        for i in range(0, len(rs), k):
            grp = rs[i:i + k]
            entries.append({"url": state.signed_url(xh, [(r[2], r[3]) for r in grp], exp),
                            "ranges": [{"chunks": {"start": r[0], "end": r[1]},
                                        "bytes": {"start": r[2], "end": r[3]}} for r in grp]})
        xorbs[xh] = entries
    return {"offset_into_first_range": lie_offset(off, terms, lie), "terms": term_json(terms, lie), "xorbs": xorbs}


def fetch_info_v1(state, terms, exp):
    fi = {}
    for xh, rs in merged_ranges(state, terms).items():
        fi[xh] = [{"range": {"start": r[0], "end": r[1]}, "url": state.signed_url(xh, [(r[2], r[3])], exp),
                   "url_range": {"start": r[2], "end": r[3]}} for r in rs]
    return fi


def recon_v1(state, file_hash, range_header, lie):
    off, terms = build_terms(state, file_hash, range_header)
    exp = int(time.time()) + state.args.url_ttl
    return {"offset_into_first_range": lie_offset(off, terms, lie), "terms": term_json(terms, lie),
            "fetch_info": fetch_info_v1(state, terms, exp)}


def file_chunks(state, fh):
    """The file's chunks [(raw hash, size)] and its terms' chunk counts, from the shards."""
    f = state.store.file(fh)
    if f is None:
        raise HTTPError(404, "file %s not found" % fh)
    chunks, per_term = [], []
    for xh, s, e, _ in f["terms"]:
        info = state.store.cas.get(xh)
        if info is None or e > len(info["chunks"]):
            raise HTTPError(500, "the chunks of xorb %s are in no shard" % xh)
        chunks += [(h, ulen) for h, _, ulen in info["chunks"][s:e]]
        per_term.append(e - s)
    return chunks, per_term


def chunk_hash_windows(chunks, dirty, extend):
    """Windows [(first chunk, end chunk)] over the chunks that overlap a dirty byte range
    [(start, end exclusive)], runs of such chunks forming one window; with `extend` each window
    goes on past its last dirty chunk until two consecutive chunks have a stable size (16 KiB <=
    size < 120 KiB: where the chunker provably re-synchronises), as HF's mirror of the Hub's
    server does. Dirty ranges are sorted and merged."""
    out, pos, i = [], 0, 0
    starts = []
    for c in chunks:
        starts.append(pos)
        pos += c[1]
    n = len(chunks)
    over = [any(starts[k] < e and starts[k] + chunks[k][1] > s for s, e in dirty) for k in range(n)]
    while i < n:
        if not over[i]:
            i += 1
            continue
        j = i
        while j < n and over[j]:
            j += 1
        if extend:
            stable = 0
            while j < n and stable < 2:
                stable = stable + 1 if 16384 <= chunks[j][1] < 122880 else 0
                j += 1
                while j < n and over[j]:
                    j, stable = j + 1, 0
        out.append((i, j))
        i = j
    return out


def file_chunk_hashes(state, fh, header, lie):
    """FileChunkHashesResponse (api.md section 9) for X-Range-Dirty: header."""
    ranges = parse_byte_ranges(header)
    if not ranges:
        raise HTTPError(400, "missing or malformed X-Range-Dirty (bytes=A-B[,C-D...])")
    chunks, per_term = file_chunks(state, fh)
    size = sum(c[1] for c in chunks)
    dirty = sorted((a, min(b + 1, size)) for a, b in ranges if a <= b and a < size)
    if not dirty:
        raise HTTPError(400, "no dirty range inside the file (size %d)" % size)
    wins = chunk_hash_windows(chunks, dirty, getattr(state.args, "fch_extend", False))
    offs = [0]
    for c in chunks:
        offs.append(offs[-1] + c[1])
    gaps, prev = [], 0
    for k, (a, b) in enumerate(wins + [(len(chunks), len(chunks))]):
        g = chunks[prev:a]
        gaps.append(subtree_from_chunks(k == 0, g, k == len(wins)) if g else None)
        prev = b
    if lie == "fch-lie":  # one node of the first non-empty gap is not the file's
        for g in gaps:
            if g:
                h = bytearray(str_to_hash(g["nodes"][0]["hash"]))
                h[5] ^= 1
                g["nodes"][0]["hash"] = hash_to_str(bytes(h))
                break
    # the verification hashes of the terms no window touches
    gapv, t0 = [], 0
    for n in per_term:
        if not any(a < t0 + n and b > t0 for a, b in wins):
            gapv.append(hash_to_str(blake3(b"".join(h for h, _ in chunks[t0:t0 + n]), VERIFICATION_KEY)))
        t0 += n
    return {"totalChunks": len(chunks), "fileSize": size,
            "windows": [{"dirtyByteRange": [offs[a], offs[b]]} for a, b in wins],
            "hashRanges": gaps, "gapVerification": gapv}


def parse_byte_ranges(h):
    m = re.fullmatch(r"\s*bytes\s*=\s*(.+)", h or "")
    if not m:
        return None
    out = []
    for part in m.group(1).split(","):
        mm = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", part)
        if not mm:
            return None
        out.append((int(mm.group(1)), int(mm.group(2))))
    return out


# --------------------------------------------------------------------------------------------
# HTTP handler

REPO_TYPES = {"models": "models", "model": "models", "datasets": "datasets", "dataset": "datasets",
              "spaces": "spaces", "space": "spaces"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hubserver-testdouble/1"
    state = None  # set in main

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

    # ---- plumbing
    def _record(self, status, fault=None):
        u = urllib.parse.urlsplit(self.path)
        if u.path.startswith("/_control/"):
            return
        entry = {"method": self.command, "path": u.path, "query": u.query,
                 "range": self.headers.get("Range"), "status": status, "time": time.time()}
        if fault:
            entry["fault"] = fault
        with self.state.lock:
            self.state.log.append(entry)

    def send(self, status, body=b"", ctype="application/json", headers=None, fault=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._record(status, fault)

    def error(self, status, msg, headers=None, fault=None):
        self.send(status, {"error": msg}, headers=headers, fault=fault)

    def body(self):
        return self.raw_body or b""

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                line = self.rfile.readline()
                sz = int(line.split(b";")[0].strip() or b"0", 16)
                if sz == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(sz)
                self.rfile.readline()
        return self.rfile.read(n) if n else b""

    def bearer(self):
        a = self.headers.get("Authorization", "")
        return a[7:].strip() if a[:7].lower() == "bearer " else None

    def check_cas_auth(self, scope="read"):
        if self.state.take("token-401"):
            raise HTTPError(401, "token rejected (fault token-401)", fault="token-401")
        tok = self.bearer()
        if tok is None:
            raise HTTPError(401, "missing Authorization: Bearer token")
        with self.state.lock:
            info = self.state.tokens.get(tok)
        if info is None:
            raise HTTPError(401, "unknown token")
        if info["exp"] <= time.time():
            raise HTTPError(401, "token expired")
        if scope == "write" and info["scope"] != "write":
            raise HTTPError(403, "token scope is read; write required")

    def dispatch(self):
        u = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(u.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        m = self.command
        self.raw_body = None
        try:
            if m in ("POST", "PUT"):
                self.raw_body = self.read_body()
            if path.startswith("/_control/"):
                return self.control(path, m)
            if m in ("GET", "HEAD") and "/resolve/" in path:
                return self.resolve(u.path)
            mm = re.fullmatch(r"/api/(models|datasets|spaces)/(.+)/xet-(read|write)-token/(.+)", path)
            if mm and m == "GET":
                return self.token(*mm.groups())
            mm = re.fullmatch(r"/v([12])/reconstructions/([^/]+)", path)
            if mm and m == "GET":
                return self.reconstruction(int(mm.group(1)), mm.group(2))
            if path == "/v1/reconstructions" and m == "POST":
                return self.batch()
            mm = re.fullmatch(r"/v2/file-chunk-hashes/([^/]+)", path)
            if mm and m == "GET":
                return self.chunk_hashes(mm.group(1))
            mm = re.fullmatch(r"/xorb/default/([^/]+)", path)
            if mm and m in ("GET", "HEAD"):
                return self.xorb_get(mm.group(1), q)
            mm = re.fullmatch(r"/_bytes/([^/]+)", path)
            if mm and m in ("GET", "HEAD"):
                return self.bytes_get(mm.group(1))
            mm = re.fullmatch(r"/v1/files/([^/]+)", path)
            if mm and m == "HEAD":
                self.check_cas_auth()
                sz = self.state.store.file_size(self.hexarg(mm.group(1)))
                if sz is None:
                    raise HTTPError(404, "no such file")
                return self.send_head_len(sz)
            mm = re.fullmatch(r"/v1/xorbs/([^/]+)/([^/]+)", path)
            if mm and m == "HEAD":
                self.check_cas_auth()
                p = self.state.store.xorb_path(self.hexarg(mm.group(2)))
                if p is None:
                    raise HTTPError(404, "no such xorb")
                return self.send_head_len(os.path.getsize(p))
            if mm and m == "POST":
                return self.xorb_upload(mm.group(1), mm.group(2))
            if path == "/v1/shards" and m == "POST":
                return self.shard_upload()
            if path == "/v2/shards" and m == "POST" and getattr(self.state.args, "shards_v2", False):
                return self.shard_upload_v2()
            mm = re.fullmatch(r"/v1/chunks/([^/]+)/([^/]+)", path)
            if mm and m == "GET":
                return self.dedup(mm.group(1), mm.group(2))
            raise HTTPError(404, "no route for %s %s" % (m, path))
        except HTTPError as e:
            self.error(e.status, e.msg, e.headers, fault=e.fault)
        except (ConnectionError, BrokenPipeError, socket.timeout):
            self.close_connection = True
        except Exception as e:  # a bug or a bad store file: answer 500 rather than hang up
            log("internal error on %s %s: %r" % (m, path, e))
            try:
                self.error(500, "internal error: %r" % e)
            except OSError:
                self.close_connection = True

    def hexarg(self, s):
        if not HEX64.match(s):
            raise HTTPError(400, "malformed hash %r" % s)
        return s

    def send_head_len(self, n):
        self.send_response(200)
        self.send_header("Content-Length", str(n))
        self.end_headers()
        self._record(200)

    def do_GET(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    # ---- control
    def control(self, path, m):
        st = self.state
        if path == "/_control/log" and m == "GET":
            with st.lock:
                entries = list(st.log)
            return self.send(200, entries)
        if path == "/_control/faults" and m == "GET":
            with st.lock:
                f = dict(st.faults)
            return self.send(200, f)
        if path == "/_control/fault" and m == "POST":
            try:
                req = json.loads(self.body() or b"{}")
                st.set_fault(req["name"], int(req.get("count", 1)))
            except (ValueError, KeyError, TypeError) as e:
                raise HTTPError(400, str(e))
            with st.lock:
                f = dict(st.faults)
            return self.send(200, {"faults": f})
        if path == "/_control/reset" and m == "POST":
            self.body()
            with st.lock:
                st.faults.clear()
                st.log.clear()
            return self.send(200, {"ok": True})
        if path == "/_control/config" and m == "POST":
            try:
                req = json.loads(self.body() or b"{}")
                for k, v in req.items():
                    if k not in ("token_ttl", "url_ttl", "max_ranges_per_url", "no_v2", "hf_token", "shards_v2", "fch_extend"):
                        raise ValueError("unknown setting %r" % k)
                    setattr(st.args, k, v)
            except (ValueError, TypeError, AttributeError) as e:
                raise HTTPError(400, str(e))
            return self.send(200, {k: getattr(st.args, k) for k in
                                   ("token_ttl", "url_ttl", "max_ranges_per_url", "no_v2", "hf_token", "shards_v2", "fch_extend")})
        if path == "/_control/rescan" and m == "POST":
            self.body()
            st.store.rescan()
            return self.send(200, {"ok": True})
        raise HTTPError(404, "unknown control endpoint")

    # ---- hub
    def resolve(self, raw_path):
        parts = raw_path.strip("/").split("/")
        if "resolve" not in parts:
            raise HTTPError(404, "not a resolve URL")
        i = parts.index("resolve")
        rtype = "models"
        repo_parts = parts[:i]
        if repo_parts and repo_parts[0] in ("datasets", "spaces"):
            rtype, repo_parts = repo_parts[0], repo_parts[1:]
        if not repo_parts or len(parts) < i + 3:
            raise HTTPError(404, "bad resolve URL")
        repo = urllib.parse.unquote("/".join(repo_parts))
        rev = urllib.parse.unquote(parts[i + 1])
        fpath = urllib.parse.unquote("/".join(parts[i + 2:]))
        fh = self.state.repo_files.get((rtype, repo, rev, fpath))
        if fh is None:
            raise HTTPError(404, "Entry not found", {"X-Error-Code": "EntryNotFound"})
        f = self.state.store.file(fh)
        size = self.state.store.file_size(fh)
        base = self.state.base()
        etag = f["sha256"] if f and f.get("sha256") else fh
        hdrs = {
            "Location": base + "/_bytes/" + fh,
            "X-Xet-Hash": fh,
            "X-Linked-Size": str(size if size is not None else 0),
            "X-Linked-ETag": '"%s"' % etag,
            "ETag": '"%s"' % etag,
            "X-Repo-Commit": hashlib.sha1(("%s@%s" % (repo, rev)).encode()).hexdigest(),
            "Link": '<%s/api/%s/%s/xet-read-token/%s>; rel="xet-auth", <%s/v1/reconstructions/%s>; '
                    'rel="xet-reconstruction-info"' % (base, rtype, repo, urllib.parse.quote(rev, safe=""), base, fh),
        }
        self.send(302, b"", ctype="text/plain", headers=hdrs)

    def token(self, rtype, repo, kind, rev):
        want = self.state.args.hf_token
        if want is not None and self.bearer() != want:
            raise HTTPError(401, "Invalid credentials in Authorization header")
        tok, exp = self.state.issue_token(kind, (rtype, repo, rev))
        self.send(200, {"accessToken": tok, "exp": exp, "casUrl": self.state.base()})

    # ---- CAS
    def reconstruction(self, ver, fh):
        self.check_cas_auth()
        fh = self.hexarg(fh)
        st = self.state
        if ver == 2 and (st.args.no_v2 or st.take("v2-404")):
            raise HTTPError(404, "v2 not served", fault="v2-404" if not st.args.no_v2 else None)
        if st.take("recon-429"):
            raise HTTPError(429, "rate limited (fault)", {"Retry-After": "0"}, fault="recon-429")
        if st.take("recon-500"):
            raise HTTPError(500, "internal error (fault)", fault="recon-500")
        lie = st.take_first(RECON_LIES)
        rng = self.headers.get("Range")
        body = (recon_v2 if ver == 2 else recon_v1)(st, fh, rng, lie)
        self.send(200, body, fault=lie)

    def chunk_hashes(self, fh):
        self.check_cas_auth()
        fh = self.hexarg(fh)
        st = self.state
        if st.take("fch-404"):
            raise HTTPError(404, "no route (fault fch-404: a server without file-chunk-hashes)", fault="fch-404")
        lie = "fch-lie" if st.take("fch-lie") else None
        self.send(200, file_chunk_hashes(st, fh, self.headers.get("X-Range-Dirty"), lie), fault=lie)

    def batch(self):
        raw = self.body()
        self.check_cas_auth()
        try:
            keys = json.loads(raw)
            hashes = sorted({k["hash"] for k in keys})
        except (ValueError, TypeError, KeyError):
            raise HTTPError(400, "malformed body")
        st = self.state
        if st.take("recon-429"):
            raise HTTPError(429, "rate limited (fault)", {"Retry-After": "0"}, fault="recon-429")
        if st.take("recon-500"):
            raise HTTPError(500, "internal error (fault)", fault="recon-500")
        lie = st.take_first(RECON_LIES)
        files, allterms = {}, []
        for h in hashes:
            _, terms = build_terms(st, self.hexarg(h), None)
            files[h] = term_json(terms, lie)
            allterms += terms
        exp = int(time.time()) + st.args.url_ttl
        self.send(200, {"files": files, "fetch_info": fetch_info_v1(st, allterms, exp)})

    def xorb_get(self, xh, q):
        st = self.state
        xh = self.hexarg(xh)
        try:
            rng = q["X-Xet-Signed-Range"][0]
            exp = int(q["Expires"][0])
            sig = q["Signature"][0]
        except (KeyError, ValueError, IndexError):
            raise HTTPError(403, "missing or malformed signature parameters")
        if not hmac.compare_digest(sig, st.sign("/xorb/default/" + xh, rng, exp)):
            raise HTTPError(403, "bad signature")
        if exp < time.time():
            raise HTTPError(403, "URL expired")
        signed = parse_byte_ranges(rng)
        req = parse_byte_ranges(self.headers.get("Range"))
        if req is None:
            raise HTTPError(403, "Range header missing or malformed (must be within the signed ranges)")
        if not req or any(r not in signed for r in req):
            raise HTTPError(403, "Range %r not within signed ranges %r" % (self.headers.get("Range"), rng))
        data = st.store.read_xorb(xh)
        if data is None:
            raise HTTPError(404, "no such xorb")
        total = len(data)
        for a, b in req:
            if b >= total or a > b:
                raise HTTPError(416, "range past the end", {"Content-Range": "bytes */%d" % total})
        if st.take("xorb-429"):
            raise HTTPError(429, "rate limited (fault)", {"Retry-After": "0"}, fault="xorb-429")
        if st.take("xorb-500"):
            raise HTTPError(500, "internal error (fault)", fault="xorb-500")
        if st.take("xorb-200"):  # as a server or proxy that ignores Range
            self._record(200, "xorb-200")  # first: the client hangs up before the body is all sent
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(bytes(data))
            return None
        fault = None
        if st.take("xorb-corrupt"):
            fault = "xorb-corrupt"
            data = bytearray(data)
            a = req[0][0]
            clen = data[a + 1] | (data[a + 2] << 8) | (data[a + 3] << 16)
            if clen:
                data[a + 8 + clen // 2] ^= 0x5A
            data = bytes(data)
        if len(req) == 1:
            a, b = req[0]
            body = data[a:b + 1]
            ctype = "application/octet-stream"
            extra = {"Content-Range": "bytes %d-%d/%d" % (a, b, total)}
        else:
            boundary = "hubserver_" + secrets.token_hex(8)
            parts = []
            for a, b in req:
                parts.append(("--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes %d-%d/%d\r\n\r\n"
                              % (boundary, a, b, total)).encode())
                parts.append(data[a:b + 1])
                parts.append(b"\r\n")
            parts.append(("--%s--\r\n" % boundary).encode())
            body = b"".join(parts)
            ctype = "multipart/byteranges; boundary=" + boundary
            extra = {}
        if self.command == "HEAD":
            return self.send(206, body, ctype=ctype, headers=extra, fault=fault)
        drop = st.take("xorb-drop")
        trunc = (not drop) and st.take("xorb-truncate")
        if not (drop or trunc):
            return self.send(206, body, ctype=ctype, headers=extra, fault=fault)
        self.send_response(206)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        if drop:
            sent = body[:len(body) // 2]
        else:
            sent = body[:len(body) - max(1, min(len(body) // 4, 65536))]
        self.wfile.write(sent)
        self.wfile.flush()
        self._record(206, "xorb-drop" if drop else "xorb-truncate")
        self.close_connection = True
        sock = self.connection
        try:
            if drop:  # abortive close: RST
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def bytes_get(self, fh):
        """The whole file, reassembled here (the Location of a resolve). Not the CAS protocol."""
        st = self.state
        f = st.store.file(self.hexarg(fh))
        if f is None:
            raise HTTPError(404, "no such file")
        if self.command == "HEAD":
            return self.send_head_len(sum(t[3] for t in f["terms"]))
        out = bytearray()
        cache = {}
        for xh, s, e, _ in f["terms"]:
            if xh not in cache:
                cache[xh] = st.store.read_xorb(xh)
                if cache[xh] is None:
                    raise HTTPError(500, "xorb missing")
            data = cache[xh]
            offs, hdrs, _ = st.store.layout(xh)
            for i in range(s, e):
                sch, clen, ulen = hdrs[i]
                out += decode_chunk(sch, data[offs[i] + 8:offs[i] + 8 + clen], ulen)
        self.send(200, bytes(out), ctype="application/octet-stream")

    # ---- uploads (phase 2)
    def xorb_upload(self, prefix, xh):
        raw = self.body()
        self.check_cas_auth("write")
        if prefix != "default":
            raise HTTPError(400, "prefix must be 'default'")
        xh = self.hexarg(xh)
        if self.state.take("upload-429"):
            raise HTTPError(429, "rate limited (fault)", {"Retry-After": "0"}, fault="upload-429")
        if self.state.take("upload-500"):
            raise HTTPError(500, "internal error (fault)", fault="upload-500")
        if self.state.take("upload-ansi"):  # raw terminal controls in an error body
            return self.send(400, b"bad xorb \x1b]0;owned\x07\x1b[2J\x1b[1Ahidden\r\xc2\x9b31m", ctype="text/plain",
                             fault="upload-ansi")
        try:
            offs, hdrs = xorb_records(raw)
            nodes = []
            for i, (sch, clen, ulen) in enumerate(hdrs):
                d = decode_chunk(sch, raw[offs[i] + 8:offs[i] + 8 + clen], ulen)
                nodes.append((chunk_hash(d), ulen))
        except (FormatError, IndexError, struct.error) as e:
            raise HTTPError(400, "bad xorb: %s" % e)
        if not nodes:
            raise HTTPError(400, "empty xorb")
        if offs[-1] > 64 * 1024 * 1024:
            raise HTTPError(400, "xorb larger than 64 MiB")
        got = hash_to_str(merkle_root(nodes))
        if got != xh:
            raise HTTPError(400, "xorb hash mismatch: body hashes to %s" % got)
        st = self.state
        inserted = st.store.xorb_path(xh) is None
        if inserted:
            p = os.path.join(st.store.root, "xorbs", xh + ".xorb")
            tmp = p + ".tmp%d" % threading.get_ident()
            with open(tmp, "wb") as f:
                f.write(raw)
            os.replace(tmp, p)
            with st.store.lock:
                st.store.xorb_paths[xh] = p
        self.send(200, {"was_inserted": inserted})

    def shard_upload(self):
        raw = self.body()
        self.check_cas_auth("write")
        if self.state.take("shard-500"):
            raise HTTPError(500, "internal error (fault)", fault="shard-500")
        self.send(200, {"result": self.shard_register(raw)})

    def shard_upload_v2(self):
        raw = self.body()
        self.check_cas_auth("write")
        if self.state.take("shard-500"):
            raise HTTPError(500, "internal error (fault)", fault="shard-500")
        n = max(1, len(raw) // 4096)
        lines = [{"type": "validating", "verified": 0, "total": n}]
        try:
            r = self.shard_register(raw)
            lines += [{"type": "validating", "verified": n, "total": n}, {"type": "committing", "stage": "uploading"},
                      {"type": "committing", "stage": "syncing"}, {"type": "result", "result": r}]
            status = "ok"
        except HTTPError as e:
            lines.append({"type": "error", "message": e.msg})
            status = "error-event"
        body = "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines)
        self.send(200, body, ctype="application/x-ndjson", headers={"Cache-Control": "no-cache"},
                  fault=None if status == "ok" else status)

    def shard_register(self, raw):
        """Validates and registers an upload shard; returns 0 (existed) or 1, or raises HTTPError(400)."""
        try:
            files, xorbs, _ = parse_shard(raw)
        except (FormatError, struct.error) as e:
            raise HTTPError(400, "bad shard: %s" % e)
        st = self.state
        for xh in xorbs:
            if st.store.xorb_path(xh) is None:
                raise HTTPError(400, "shard lists xorb %s which was not uploaded" % xh)
        for fh, f in files.items():
            for xh, s, e, unpacked in f["terms"]:
                lay = st.store.layout(xh)
                if lay is None:
                    raise HTTPError(400, "file %s cites unknown xorb %s" % (fh, xh))
                if e > len(lay[1]) or sum(h[2] for h in lay[1][s:e]) != unpacked:
                    raise HTTPError(400, "file %s: term %s[%d,%d) does not match the xorb" % (fh, xh, s, e))
        name = hashlib.sha256(raw).hexdigest()
        p = os.path.join(st.store.root, "shards", name + ".shard")
        existed = os.path.exists(p)
        if not existed:
            with open(p + ".tmp", "wb") as f:
                f.write(raw)
            os.replace(p + ".tmp", p)
        with st.store.lock:
            for k, v in files.items():
                st.store.files.setdefault(k, v)
            for k, v in xorbs.items():
                st.store.cas.setdefault(k, v)
                for ch, _, _ in v["chunks"]:
                    st.store.chunk_index.setdefault(ch, k)
        return 0 if existed else 1

    def dedup(self, prefix, ch):
        self.check_cas_auth()
        if prefix not in ("default-merkledb", "default"):
            raise HTTPError(400, "bad prefix")
        if prefix == "default-merkledb" and self.state.take("dedup-merkledb-404"):
            raise HTTPError(404, "no route for GET /v1/chunks/default-merkledb", fault="dedup-merkledb-404")
        raw = str_to_hash(self.hexarg(ch))
        st = self.state
        with st.store.lock:
            xh = st.store.chunk_index.get(raw)
            info = st.store.cas.get(xh) if xh else None
        if info is None:
            raise HTTPError(404, "chunk not tracked")
        now = int(time.time())
        body = build_dedup_shard([(xh, info)], st.dedup_key, now + 7 * 86400, now)
        self.send(200, body, ctype="application/octet-stream")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if VERBOSE:
            super().handle_error(request, client_address)


# --------------------------------------------------------------------------------------------
# main

def parse_file_spec(spec, default_type="models"):
    """TYPE/REPO[@REV]/PATH=HASH -> ((type, repo, rev, path), hash). Without @REV, REPO = 2 segments
    and REV = main; a REV containing '/' is written %2F-encoded (refs%2Fpr%2F1)."""
    if "=" not in spec:
        raise ValueError("--file wants TYPE/REPO[@REV]/PATH=FILEHASH: %r" % spec)
    left, fh = spec.rsplit("=", 1)
    fh = fh.strip().lower()
    if not HEX64.match(fh):
        raise ValueError("bad file hash in %r" % spec)
    t, _, rest = left.partition("/")
    if t not in REPO_TYPES:
        t, rest = default_type, left
    t = REPO_TYPES[t]
    if "@" in rest:
        repo, _, r2 = rest.partition("@")
        rev, _, path = r2.partition("/")
        rev = urllib.parse.unquote(rev)  # a rev with '/' is given %2F-encoded
    else:
        segs = rest.split("/")
        repo, rev, path = "/".join(segs[:2]), "main", "/".join(segs[2:])
    if not repo or not path:
        raise ValueError("bad --file spec %r" % spec)
    return (t, repo, rev or "main", path), fh


def main(argv=None):
    global VERBOSE
    ap = argparse.ArgumentParser(description="Loopback TEST DOUBLE of the HF Hub + Xet CAS API (not product code).")
    ap.add_argument("--store", required=True, help="store dir with xorbs/ and shards/")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--file", action="append", default=[], metavar="TYPE/REPO[@REV]/PATH=FILEHASH")
    ap.add_argument("--files", help="JSON file: {\"TYPE/REPO[@REV]/PATH\": \"FILEHASH\", ...}")
    ap.add_argument("--fault", action="append", default=[], metavar="NAME[:COUNT]",
                    help="COUNT default 1; -1 = unlimited. Names: " + ", ".join(FAULTS))
    ap.add_argument("--hf-token", help="require Authorization: Bearer T on the token endpoint")
    ap.add_argument("--token-ttl", type=int, default=3600)
    ap.add_argument("--url-ttl", type=int, default=3600, help="lifetime of signed xorb URLs (s)")
    ap.add_argument("--max-ranges-per-url", type=int, default=0)
    ap.add_argument("--no-v2", action="store_true", help="/v2/reconstructions answers 404")
    ap.add_argument("--shards-v2", action="store_true", help="serve POST /v2/shards (NDJSON events)")
    ap.add_argument("--fch-extend", action="store_true",
                    help="file-chunk-hashes windows run on to two stable-size chunks (as the Hub's server)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    VERBOSE = args.verbose
    store = Store(args.store)
    st = State(args, store)
    specs = list(args.file)
    try:
        if args.files:
            with open(args.files) as f:
                m = json.load(f)
            for k, v in m.items():
                specs.append("%s=%s" % (k, v["hash"] if isinstance(v, dict) else v))
        for s in specs:
            key, fh = parse_file_spec(s)
            st.repo_files[key] = fh
        for fs in args.fault:
            name, _, cnt = fs.partition(":")
            st.set_fault(name, int(cnt) if cnt else 1)
    except ValueError as e:
        ap.error(str(e))
    Handler.state = st
    httpd = Server(("127.0.0.1", args.port), Handler)
    st.port = httpd.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % st.port)
        os.replace(tmp, args.port_file)
    print("listening on http://127.0.0.1:%d" % st.port, flush=True)
    log("%d files, %d xorbs, %d repo files" % (len(store.files), len(store.xorb_paths), len(st.repo_files)))

    def stop(*_):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
