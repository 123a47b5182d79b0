#!/usr/bin/env python3
"""hubserver.py -- TEST DOUBLE of the Hugging Face Hub + Xet CAS HTTP API, for cas.h tests.

NOT product code: loopback only, no persistence beyond the store directory (Hub repos and
commits live in memory), toy auth, deliberate fault injection. Python 3.11 standard library, plus
Node and the oracle beside the repo (../shared/oracle) to verify uploads fast (see Uploads).

Serves, from a store directory (STORE/xorbs/<hash>[.xorb], STORE/shards/*):
 Hub (repos: models/acme/demo, the --repo and --file ones; private unless :public)
  GET|HEAD /{repo}/resolve/{rev}/{path}   (also /datasets/..., /spaces/...; rev: a branch, refs/pr/N
           or a commit oid). A Xet (LFS) file: 302 to its bytes (an expiring signed /_bytes URL that
           honours Range) with X-Xet-Hash, X-Linked-Size, X-Linked-ETag/ETag (the SHA-256),
           X-Xet-Refresh-Route and Link rel="xet-auth" (the read-token URL of the resolved commit) +
           rel="xet-reconstruction-info"; with Accept: application/vnd.xet-fileinfo+json instead 200
           and {hash, refreshUrl, reconstructionUrl, etag, size} (what @huggingface/hub's
           fileDownloadInfo reads). A regular file: its bytes, Range honoured (206 + Content-Range).
           Every answer past the repo check carries X-Repo-Commit; 404s carry X-Error-Code
           (RepoNotFound, RevisionNotFound, EntryNotFound).
  GET      /api/{models|datasets|spaces}/{repo}/xet-{read|write}-token/{rev}  (JSON + X-Xet-* headers)
  GET      /api/{type}s/{repo}/revision/{rev}   {id, sha, private, siblings}
  POST     /api/{type}s/{repo}/preupload/{rev}  {files: [{path, size, sample}]} -> upload modes
  POST     /[datasets/|spaces/]{repo}.git/info/lfs/objects/batch  (Git LFS batch, transfer xet)
  POST     /api/{type}s/{repo}/commit/{rev}[?create_pr=1]  NDJSON: header, file, lfsFile (its SHA-256
           linked to a Xet file by an uploaded shard's metadata), deletedFile, deletedFolder
  Hub tokens: --hf-token T may read and write every repo; --user TOKEN=GRANTS only what GRANTS say
  (read:TYPE/REPO, write:TYPE/REPO); a public repo may be read by anyone. A token nobody has: 401;
  a repo that is missing or not visible: 401 anonymously, 404 otherwise (no CAS token issued); may
  read but not write: 403. Neither --hf-token nor --user: every request may do anything.
 CAS
  GET      /v2/reconstructions/{file}   GET /v1/reconstructions/{file}   POST /v1/reconstructions
  HEAD     /v1/files/{file}             HEAD /v1/xorbs/default/{xorb}
  GET      /xorb/default/{xorb}?X-Xet-Signed-Range=..&Expires=..&Signature=..   (signed transfer URL)
  GET      /_bytes/{file}?Expires=..&Signature=..  (the Location of a resolve: the file decoded here)
  POST     /v1/xorbs/default/{xorb}     POST /v1/shards     GET /v1/chunks/default-merkledb/{chunk}
  GET      /v2/file-chunk-hashes/{file} with X-Range-Dirty: bytes=A-B[,...] (api.md section 9:
           chunk-aligned windows over the dirty ranges and a MerkleHashSubtree per gap; config
           "fch_extend" extends each window to two stable-size chunks, as the Hub's server does)
  POST     /_control/fault {"name":..,"count":N}   POST /_control/reset   GET /_control/log
           GET /_control/faults   GET /_control/info (which verifier)   POST /_control/config
           {"url_ttl"|"token_ttl"|"max_ranges_per_url"|"no_v2"|"hf_token": value}
           POST /_control/rescan (re-read the store directory)
Uploads are checked as the CAS API requires. A xorb: every chunk decoded (LZ4, BG4) and hashed,
the Merkle hash of the chunks must be its name, <= 64 MiB, <= 8192 chunks. A shard (400 with the
reason otherwise): <= 64 MiB, every xorb it lists or cites uploaded, its CAS info the xorbs' real
chunks, every term inside its xorb with the right size, every verification hash recomputed
(required), the file hash = the Merkle file hash of the file's chunks, a SHA-256 metadata
extension = the SHA-256 of the file's bytes. The hashing runs in persistent Node children
(tests/hubverify.mjs: xet-core's WebAssembly, @huggingface/blake3-jit and HF's lz4js from the
oracle, npm-installed into $CAS_ORACLE_WORK or /tmp/cas-oracle on first use; ~190 MB/s a child)
or, without Node or the oracle, in this file's pure Python (~1 MB/s); under CI=true their absence
is an error. --verifier node|python forces one.
Hash strings follow api.md "Converting Hashes to Strings" (each 8-byte LE word byte-reversed).

Repo files: --file TYPE/REPO[@REV]/PATH=FILEHASH (TYPE models|datasets|spaces; without @REV the
repo is two segments and REV is main; a REV with '/' is %2F-encoded; a new REV is a branch made
from main), or --files F.json
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
import shutil
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
    "sha256": str|None, "verif": [raw verification hash per term]|None, "flags"}}; xorbs: {xorb: {"chunks": [(chunk_hash_raw, byte_start, ulen)],
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
        verif = None
        if flags & 0x80000000:
            need(48 * nent)
            verif = [bytes(buf[pos + 48 * k:pos + 48 * k + 32]) for k in range(nent)]
            pos += 48 * nent
        sha = None
        if flags & 0x40000000:
            need(48)
            sha = hash_to_str(bytes(buf[pos:pos + 32]))
            pos += 48
        files.setdefault(hash_to_str(h), {"terms": terms, "sha256": sha, "verif": verif, "flags": flags})
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
# upload verification: Hugging Face's own code in persistent Node children (tests/hubverify.mjs:
# xet-core's WebAssembly, @huggingface/blake3-jit, HF's lz4js), or this file's pure Python

HERE = os.path.dirname(os.path.abspath(__file__))


def oracle_source():
    """The oracle beside the repo (CAS_ORACLE overrides): ../shared/oracle, as tests/oracle/interop.sh."""
    return os.environ.get("CAS_ORACLE") or os.path.normpath(os.path.join(HERE, "..", "..", "shared", "oracle"))


def oracle_work():
    """Where the oracle is npm-installed (CAS_ORACLE_WORK overrides; the interop test's default)."""
    return os.environ.get("CAS_ORACLE_WORK") or "/tmp/cas-oracle"


def oracle_ready(d):
    return (os.path.isfile(os.path.join(d, "lib", "wasm.mjs")) and
            os.path.isdir(os.path.join(d, "node_modules", "@huggingface", "hub")) and
            os.path.isdir(os.path.join(d, "node_modules", "@huggingface", "blake3-jit")))


def ensure_oracle():
    """The installed oracle directory (copied from oracle_source() and `npm ci`-ed on first use,
    under a lock file; its HF bundle built), or raises RuntimeError saying what is missing."""
    import fcntl
    import subprocess
    work = oracle_work()
    if shutil.which("node") is None:
        raise RuntimeError("node is not installed")
    os.makedirs(os.path.dirname(work) or ".", exist_ok=True)
    with open(work.rstrip("/") + ".lock", "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if not oracle_ready(work):
            src = oracle_source()
            if not os.path.isfile(os.path.join(src, "lib", "wasm.mjs")):
                raise RuntimeError("no oracle at %s (and none installed at %s)" % (src, work))
            if shutil.which("npm") is None:
                raise RuntimeError("npm is not installed (needed once to install %s into %s)" % (src, work))
            shutil.copytree(src, work, dirs_exist_ok=True, ignore=shutil.ignore_patterns("node_modules", "build"))
            r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=work, capture_output=True, text=True)
            if r.returncode != 0 or not oracle_ready(work):
                raise RuntimeError("npm ci in %s failed: %s" % (work, (r.stderr or r.stdout)[-300:]))
        if not os.path.isfile(os.path.join(work, "build", "hub-internals.mjs")):
            r = subprocess.run(["node", "-e", "import(process.argv[1]).then(m => m.buildInternals({quiet: true}))",
                                "file://" + os.path.join(work, "build-internals.mjs")], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("building %s/build failed: %s" % (work, r.stderr[-300:]))
    return work


class Verifier:
    """Recomputes what uploads claim. kind "node": a pool of tests/hubverify.mjs children (one
    request at a time each, as many as cores up to 2); "python": this file's BLAKE3/LZ4 (slow,
    ~1 MB/s). "auto" takes node when node and the oracle are there, python otherwise; under
    CI=true their absence is an error (uploads answer 500 saying why)."""

    def __init__(self, mode):
        self.mode = mode
        self.kind = None
        self.error = None
        self.ready = threading.Event()
        self.pool = []
        self.free = None

    def start(self):
        threading.Thread(target=self._init, daemon=True).start()

    def _init(self):
        import queue
        try:
            if self.mode == "python":
                self.kind = "python"
                return
            try:
                work = ensure_oracle()
                self.free = queue.Queue()
                for _ in range(max(1, min(2, os.cpu_count() or 1))):
                    w = self._spawn(work)
                    self.pool.append(w)
                    self.free.put(w)
                self.kind = "node"
                log("verifier: node, %d children, oracle %s" % (len(self.pool), work))
            except (RuntimeError, OSError, ValueError) as e:
                if self.mode == "node" or os.environ.get("CI") == "true":
                    self.error = "%s (CI=true or --verifier node: no pure-Python fallback)" % e
                    sys.stderr.write("hubserver: upload verifier unavailable: %s\n" % self.error)
                else:
                    self.kind = "python"
                    log("verifier: pure Python (%s)" % e)
        finally:
            self.ready.set()

    def _spawn(self, work):
        import subprocess
        p = subprocess.Popen(["node", os.path.join(HERE, "hubverify.mjs"), work], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, bufsize=1)
        p.work = work
        p.stdin.write('{"op":"ping"}\n')
        p.stdin.flush()
        a = json.loads(p.stdout.readline() or "{}")
        if not a.get("ok"):
            p.kill()
            raise RuntimeError("tests/hubverify.mjs did not start: %r" % a)
        return p

    def wait(self):
        self.ready.wait()
        if self.error:
            raise HTTPError(500, "upload verifier unavailable: " + self.error)
        return self.kind

    def stop(self):
        for p in self.pool:
            try:
                p.stdin.close()
                p.wait(5)
            except Exception:  # best effort at exit
                p.kill()

    def _call(self, req):
        w = self.free.get()
        try:
            w.stdin.write(json.dumps(req, separators=(",", ":")) + "\n")
            w.stdin.flush()
            line = w.stdout.readline()
            if not line:
                raise OSError("hubverify.mjs exited")
        except OSError as e:  # a dead child: replaced, this request fails with 500
            log("verifier child died (%s); restarting it" % e)
            try:
                w.kill()
            except OSError:
                pass
            self.pool.remove(w)
            w = self._spawn(w.work)
            self.pool.append(w)
            raise HTTPError(500, "upload verifier failed: %s" % e)
        finally:
            self.free.put(w)
        a = json.loads(line)
        if "error" in a:
            raise FormatError(a["error"])
        return a

    # ---- the operations (hashes raw here; FormatError for a refused input)
    def xorb(self, path, data):
        """A serialized xorb's (hash, [(chunk hash, unpacked size)], end of its chunk records), every
        chunk decoded and hashed."""
        if self.wait() == "node":
            a = self._call({"op": "xorb", "path": path})
            return str_to_hash(a["hash"]), [(str_to_hash(h), n) for h, n in a["chunks"]], a["records_end"]
        offs, hdrs = xorb_records(data)
        if not hdrs:
            raise FormatError("no chunks")
        if len(hdrs) > 8192:
            raise FormatError("more than 8192 chunks")
        nodes = []
        for i, (sch, clen, ulen) in enumerate(hdrs):
            if not 1 <= ulen <= 131072 or (sch == 0 and clen != ulen):
                raise FormatError("chunk %d: sizes %d/%d" % (i, clen, ulen))
            try:
                d = decode_chunk(sch, data[offs[i] + 8:offs[i] + 8 + clen], ulen)
            except (IndexError, struct.error) as e:
                raise FormatError("chunk %d: %r" % (i, e))
            nodes.append((chunk_hash(d), ulen))
        return merkle_root(nodes), nodes, offs[-1]

    def merkle(self, nodes, file=False):
        """Xorb hash (or, file=True, file hash) of [(raw hash, size)]; zeros for none."""
        if not nodes:
            return bytes(32)
        if self.wait() == "node":
            a = self._call({"op": "merkle", "file": file, "nodes": [[hash_to_str(h), n] for h, n in nodes]})
            return str_to_hash(a["hash"])
        root = merkle_root(nodes)
        return blake3(root, bytes(32)) if file else root

    def verification(self, terms):
        """Term verification hashes: keyed BLAKE3 of each term's concatenated raw chunk hashes."""
        if not terms:
            return []
        if self.wait() == "node":
            a = self._call({"op": "verification", "terms": [[hash_to_str(h) for h in t] for t in terms]})
            return [str_to_hash(h) for h in a["hashes"]]
        return [blake3(b"".join(t), VERIFICATION_KEY) for t in terms]

    def sha256(self, store, segments):
        """SHA-256 (hex) of the decoded chunks [(xorb, first, end)] in order."""
        if self.wait() == "node":
            return self._call({"op": "sha256", "segments": [[store.xorb_path(x), s, e] for x, s, e in segments]})["sha256"]
        h = hashlib.sha256()
        for x, s, e in segments:
            data = store.read_xorb(x)
            offs, hdrs, _ = store.layout(x)
            for i in range(s, e):
                sch, clen, ulen = hdrs[i]
                h.update(decode_chunk(sch, data[offs[i] + 8:offs[i] + 8 + clen], ulen))
        return h.hexdigest()


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
        self.verified = {}    # xorb hash -> [(raw chunk hash, size)]: recomputed when it was uploaded
        self.sha_index = {}   # SHA-256 hex (a shard's metadata extension) -> file hash
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
            self.sha_index = {f["sha256"]: fh for fh, f in files.items() if f.get("sha256")}

    def chunks_of(self, xh, verifier):
        """The chunks [(raw hash, size)] of a stored xorb: as recomputed at its upload, else from the
        store's shards (a store directory is trusted), else recomputed now; None if not stored."""
        p = self.xorb_path(xh)
        if p is None:
            return None
        with self.lock:
            c = self.verified.get(xh)
            if c is None and xh in self.cas:
                c = [(h, n) for h, _, n in self.cas[xh]["chunks"]]
        if c is None:
            with open(p, "rb") as f:
                data = f.read()
            _, c, _ = verifier.xorb(p, data)
            with self.lock:
                self.verified[xh] = c
        return c

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
# the Hub: repos, revisions, commits, users

REPO_TYPES = {"models": "models", "model": "models", "datasets": "datasets", "dataset": "datasets",
              "spaces": "spaces", "space": "spaces"}

# What a new Hub repo's first commit holds (the LFS patterns of huggingface.co's default
# .gitattributes).
DEFAULT_GITATTRIBUTES = "".join("%s filter=lfs diff=lfs merge=lfs -text\n" % p for p in (
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib", "*.lfs.*",
    "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb",
    "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors", "saved_model/**/*", "*.tar.*",
    "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst", "*tfevents*")).encode()
REGULAR_MAX = 10 * 1024 * 1024  # files this big go to LFS (Xet); a regular file may not be
DANGLING_LFS = ("Your push was rejected because an LFS pointer pointed to a file that does not exist. "
                "For instance, this can happen if you used git push --no-verify to push your changes. "
                "Offending file: - %s")


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def regular_entry(content):
    return {"lfs": False, "content": content, "oid": git_blob_sha1(content)}


def lfs_patterns(text):
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 2 and not f[0].startswith("#") and "filter=lfs" in f[1:]:
            out.append(f[0])
    return out


def lfs_tracked(path, patterns):
    import fnmatch
    base = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(path if "/" in p else base, p) for p in patterns)


def looks_binary(sample):
    if b"\0" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as e:  # a sample may end inside a character
        return e.start < len(sample) - 3
    return False


def valid_repo_path(p):
    return (isinstance(p, str) and p and not p.startswith("/") and "\\" not in p and "\0" not in p
            and all(s not in ("", ".", "..") for s in p.split("/")) and not p.startswith(".git/"))


class Repo:
    """A repo: commits (oid -> tree {path: entry}, parent, title), branches (name -> oid; PRs are
    refs/pr/N branches). Entries: {"lfs": False, "content", "oid": git blob SHA-1} or
    {"lfs": True, "xet": file hash, "sha256", "size"} (sha256/size None: taken from the store)."""

    def __init__(self, rtype, name, private):
        self.type, self.name, self.private = rtype, name, private
        self.commits, self.branches, self.prs = {}, {}, 0
        self.branches["main"] = self.add_commit({".gitattributes": regular_entry(DEFAULT_GITATTRIBUTES)}, None,
                                                "initial commit")

    def add_commit(self, tree, parent, title):
        oid = hashlib.sha1(("%s/%s\n%s\n%s\n%r\n%s" % (self.type, self.name, parent, title, time.time(),
                                                       secrets.token_hex(8))).encode()).hexdigest()
        self.commits[oid] = {"tree": tree, "parent": parent, "title": title, "time": time.time()}
        return oid

    def resolve_rev(self, rev):
        """A branch, PR ref or commit oid -> commit oid, or None."""
        if rev in self.branches:
            return self.branches[rev]
        return rev if rev in self.commits else None

    def prefix(self):
        return "" if self.type == "models" else self.type + "/"


class User:
    def __init__(self, name, grants=None, admin=False, anonymous=False):
        self.name, self.grants, self.admin, self.anonymous = name, grants or {}, admin, anonymous


ANONYMOUS = User("anonymous", anonymous=True)
ADMIN = User("hf-token", admin=True)


def parse_user_spec(spec):
    """TOKEN=GRANTS, GRANTS = comma-separated read:TYPE/REPO or write:TYPE/REPO (may be empty:
    a valid token with access to nothing). -> (token, User)"""
    tok, eq, grants = spec.partition("=")
    if not tok or not eq:
        raise ValueError("--user wants TOKEN=[read|write:TYPE/REPO,...]: %r" % spec)
    g = {}
    for item in filter(None, grants.split(",")):
        scope, _, repo = item.partition(":")
        t, _, name = repo.partition("/")
        if scope not in ("read", "write") or t not in REPO_TYPES or not name:
            raise ValueError("bad grant %r in --user %r (want read:TYPE/REPO or write:TYPE/REPO)" % (item, spec))
        g[(REPO_TYPES[t], name)] = scope
    return tok, User(tok[:12], g)


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
        self.dedup_key = secrets.token_bytes(32)
        self.hub_lock = threading.Lock()
        self.repos = {}  # (type, name) -> Repo
        self.users = {}  # Hub token -> User (--user); args.hf_token is the admin
        self.verifier = Verifier(getattr(args, "verifier", "auto"))

    # ---- Hub users and repos
    def open_mode(self):
        """No Hub token configured (no --hf-token, no --user): every request may read and write."""
        return self.args.hf_token is None and not self.users

    def user_for(self, tok):
        """The User of a Hub token (ANONYMOUS for none), or None for a token nobody has."""
        if tok is None:
            return ANONYMOUS
        if self.args.hf_token is not None and tok == self.args.hf_token:
            return ADMIN
        return self.users.get(tok)

    def access(self, user, repo):
        """None, "read" or "write": what user may do to repo."""
        if self.open_mode() or user.admin:
            return "write"
        g = user.grants.get((repo.type, repo.name))
        if g:
            return g
        return None if repo.private else "read"

    def add_repo(self, rtype, name, private=True):
        with self.hub_lock:
            r = self.repos.get((rtype, name))
            if r is None:
                r = self.repos[(rtype, name)] = Repo(rtype, name, private)
            return r

    def add_file(self, key, fh):
        """--file: the repo (created if new), branch REV (made from main if new) holds PATH -> FILEHASH."""
        rtype, name, rev, path = key
        r = self.add_repo(rtype, name)
        with self.hub_lock:
            if rev not in r.branches:
                base = r.branches["main"]
                r.branches[rev] = r.add_commit(dict(r.commits[base]["tree"]), base, "branch %s" % rev)
            r.commits[r.branches[rev]]["tree"][path] = {"lfs": True, "xet": fh, "sha256": None, "size": None}

    def signed_bytes_url(self, fh):
        """The Location of a resolve: the file's bytes, an expiring signed URL (as the Hub's CDN)."""
        exp = int(time.time()) + self.args.url_ttl
        path = "/_bytes/" + fh
        return "%s%s?%s" % (self.base(), path, urllib.parse.urlencode({"Expires": exp, "Signature": self.sign(path, "", exp)}))

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

    def send(self, status, body=b"", ctype="application/json", headers=None, fault=None, length=None):
        """The answer; a HEAD gets the headers only (Content-Length: length if given, else the body's)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        # Logged before the answer goes out: once the client has it, it may send its next
        # request, which another thread could log first (the log's order is the requests').
        self._record(status, fault)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

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
            mm = re.fullmatch(r"/api/(models|datasets|spaces)/(.+)/(preupload|commit)/(.+)", path)
            if mm and m == "POST":
                t, name, what, rev = mm.groups()
                return self.preupload(t, name, rev) if what == "preupload" else self.commit(t, name, rev, q)
            mm = re.fullmatch(r"/api/(models|datasets|spaces)/(.+)/revision/(.+)", path)
            if mm and m == "GET":
                return self.revision(*mm.groups())
            mm = re.fullmatch(r"/(?:(datasets|spaces)/)?(.+)\.git/info/lfs/objects/batch", path)
            if mm and m == "POST":
                return self.lfs_batch(mm.group(1) or "models", mm.group(2))
            mm = re.fullmatch(r"/v([12])/reconstructions/([^/]+)", path)
            if mm and m == "GET":
                return self.reconstruction(int(mm.group(1)), mm.group(2))
            if path == "/v1/reconstructions" and m == "POST":
                return self.batch()
            if path in ("/reconstructions", "/v1/reconstructions") and m == "GET":
                # xet-core's RemoteClient asks the batch as GET /reconstructions?file_id=H&...
                # (remote_client.rs batch_get_reconstruction; its test server routes both paths)
                return self.batch(q.get("file_id", []))
            mm = re.fullmatch(r"/v2/file-chunk-hashes/([^/]+)", path)
            if mm and m == "GET":
                return self.chunk_hashes(mm.group(1))
            mm = re.fullmatch(r"/xorb/default/([^/]+)", path)
            if mm and m in ("GET", "HEAD"):
                return self.xorb_get(mm.group(1), q)
            mm = re.fullmatch(r"/_bytes/([^/]+)", path)
            if mm and m in ("GET", "HEAD"):
                return self.bytes_get(mm.group(1), q)
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
            if path in ("/v1/shards", "/shards") and m == "POST":  # xet-core posts to /shards
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
        self._record(200)  # before the answer, as in send()
        self.send_response(200)
        self.send_header("Content-Length", str(n))
        self.end_headers()

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
        if path == "/_control/info" and m == "GET":
            st.verifier.ready.wait(120)
            return self.send(200, {"verifier": st.verifier.kind, "verifier_error": st.verifier.error,
                                   "oracle": oracle_work() if st.verifier.kind == "node" else None})
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
    def hub_token(self):
        """The Hub token of the request: Authorization: Bearer T, or Basic with T as the password
        (git's way)."""
        a = self.headers.get("Authorization", "")
        if a[:6].lower() == "basic ":
            import base64
            try:
                return base64.b64decode(a[6:].strip()).decode().partition(":")[2] or None
            except (ValueError, UnicodeDecodeError):
                return None
        return self.bearer()

    def hub_repo(self, rtype, name, want="read"):
        """The repo and the User, if the request's Hub token may `want` it. A token nobody has: 401;
        a repo that does not exist or that the user may not see: 401 anonymous, 404 otherwise
        (RepoNotFound either way, as the Hub: a private repo's existence is not disclosed); may see
        but not write: 403."""
        st = self.state
        user = st.user_for(self.hub_token())
        if user is None:
            msg = "Invalid credentials in Authorization header"
            raise HTTPError(401, msg, {"X-Error-Message": msg,
                                       "WWW-Authenticate": 'Bearer realm="Authentication required", charset="UTF-8"'})
        with st.hub_lock:
            repo = st.repos.get((rtype, name))
        acc = st.access(user, repo) if repo else None
        if acc is None:
            raise HTTPError(401 if user.anonymous else 404, "Repository not found",
                            {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
        if want == "write" and acc != "write":
            msg = "You don't have the rights to write to %s/%s" % (rtype, name)
            raise HTTPError(403, msg, {"X-Error-Message": msg})
        return repo, user

    @staticmethod
    def rev_missing(rev, oid=None):
        h = {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id: %s" % rev}
        if oid:
            h["X-Repo-Commit"] = oid
        return HTTPError(404, "Invalid rev id: %s" % rev, h)

    def lfs_info(self, e):
        """(file hash, size, sha256 or None) of an LFS entry (sizes and SHA-256 from the store if
        the entry does not carry them)."""
        fh = e["xet"]
        f = self.state.store.file(fh)
        size = e["size"] if e["size"] is not None else self.state.store.file_size(fh)
        sha = e["sha256"] or (f or {}).get("sha256")
        return fh, size if size is not None else 0, sha

    def resolve(self, raw_path):
        """GET|HEAD /[datasets/|spaces/]{repo}/resolve/{rev}/{path}. A regular (git) file: its bytes
        (Range honoured: 206 + Content-Range). An LFS (Xet) file: with Accept: application/vnd.xet-
        fileinfo+json, 200 and the JSON {hash, refreshUrl, reconstructionUrl, etag, size}; otherwise
        302 to its bytes (an expiring signed URL that honours Range). Both carry X-Xet-Hash,
        X-Linked-Size, X-Linked-ETag and ETag (the SHA-256), X-Xet-Refresh-Route and Link
        (rel="xet-auth": the read-token URL of the resolved commit; rel="xet-reconstruction-info").
        Every answer past the repo check carries X-Repo-Commit."""
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
        name = urllib.parse.unquote("/".join(repo_parts))
        rev = urllib.parse.unquote(parts[i + 1])
        fpath = urllib.parse.unquote("/".join(parts[i + 2:]))
        repo, _ = self.hub_repo(rtype, name)
        st = self.state
        with st.hub_lock:
            oid = repo.resolve_rev(rev)
            e = repo.commits[oid]["tree"].get(fpath) if oid else None
        if oid is None:
            raise self.rev_missing(rev)
        if e is None:
            raise HTTPError(404, "Entry not found", {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found",
                                                     "X-Repo-Commit": oid})
        if not e["lfs"]:
            return self.send_ranged(e["content"], "text/plain; charset=utf-8",
                                    {"X-Repo-Commit": oid, "ETag": '"%s"' % e["oid"]})
        fh, size, sha = self.lfs_info(e)
        base = st.base()
        etag = sha or fh
        route = "/api/%s/%s/xet-read-token/%s" % (rtype, name, oid)
        recon = "%s/v1/reconstructions/%s" % (base, fh)
        hdrs = {
            "X-Repo-Commit": oid,
            "ETag": '"%s"' % etag,
            "X-Linked-ETag": '"%s"' % etag,
            "X-Linked-Size": str(size),
            "X-Xet-Hash": fh,
            "X-Xet-Refresh-Route": route,
            "Link": '<%s%s>; rel="xet-auth", <%s>; rel="xet-reconstruction-info"' % (base, route, recon),
            "Accept-Ranges": "bytes",
            "Vary": "Accept",
        }
        if "application/vnd.xet-fileinfo+json" in self.headers.get("Accept", ""):
            return self.send(200, {"hash": fh, "refreshUrl": base + route, "reconstructionUrl": recon, "etag": etag,
                                   "size": size}, ctype="application/vnd.xet-fileinfo+json", headers=hdrs)
        loc = st.signed_bytes_url(fh)
        hdrs["Location"] = loc
        self.send(302, "Found. Redirecting to %s" % loc, ctype="text/plain; charset=utf-8", headers=hdrs)

    def send_ranged(self, data_or_fn, ctype, headers, size=None):
        """200 with the bytes, or 206 + Content-Range for a satisfiable Range: bytes=A-B | A- | -N
        (416 + Content-Range: bytes */SIZE if not; a malformed or multi-range header is ignored:
        200). data_or_fn: bytes, or fn(a, b) -> bytes [a, b] (then size is given)."""
        n = len(data_or_fn) if size is None else size
        get = (lambda a, b: data_or_fn[a:b + 1]) if size is None else data_or_fn
        headers = dict(headers, **{"Accept-Ranges": "bytes"})
        rng = self.headers.get("Range")
        m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", rng or "")
        if m and (m.group(1) or m.group(2)) and not (m.group(1) and m.group(2) and int(m.group(2)) < int(m.group(1))):
            if m.group(1):
                a, b = int(m.group(1)), min(int(m.group(2)) if m.group(2) else n - 1, n - 1)
            else:
                a, b = max(0, n - int(m.group(2))), n - 1
            if a >= n or (not m.group(1) and int(m.group(2)) == 0):
                raise HTTPError(416, "Range Not Satisfiable", dict(headers, **{"Content-Range": "bytes */%d" % n}))
            headers["Content-Range"] = "bytes %d-%d/%d" % (a, b, n)
            return self.send(206, get(a, b) if self.command != "HEAD" else b"", ctype=ctype, headers=headers,
                             length=b - a + 1)
        return self.send(200, get(0, n - 1) if self.command != "HEAD" and n else b"", ctype=ctype, headers=headers,
                         length=n)

    def token(self, rtype, repo, kind, rev):
        """GET /api/{type}s/{repo}/xet-{read|write}-token/{rev}: a CAS token for the repo (read:
        the Hub token may read it; write: may write), {accessToken, exp, casUrl} and the same in
        X-Xet-Access-Token, X-Xet-Token-Expiration, X-Xet-Cas-Url (what huggingface_hub reads)."""
        r, _ = self.hub_repo(rtype, repo, "write" if kind == "write" else "read")
        with self.state.hub_lock:
            known = r.resolve_rev(rev)
        if known is None:
            raise self.rev_missing(rev)
        tok, exp = self.state.issue_token(kind, (rtype, repo, rev))
        cas = self.state.base()
        self.send(200, {"accessToken": tok, "exp": exp, "casUrl": cas},
                  headers={"X-Xet-Access-Token": tok, "X-Xet-Token-Expiration": str(exp), "X-Xet-Cas-Url": cas})

    def revision(self, rtype, name, rev):
        """GET /api/{type}s/{repo}/revision/{rev}: {id, sha, private, siblings: [{rfilename}]}."""
        repo, _ = self.hub_repo(rtype, name)
        with self.state.hub_lock:
            oid = repo.resolve_rev(rev)
            tree = dict(repo.commits[oid]["tree"]) if oid else None
        if oid is None:
            raise self.rev_missing(rev)
        sib = []
        for p in sorted(tree):
            e = tree[p]
            if e["lfs"]:
                fh, size, sha = self.lfs_info(e)
                sib.append({"rfilename": p, "size": size, "lfs": {"sha256": sha, "size": size}, "xetHash": fh})
            else:
                sib.append({"rfilename": p, "size": len(e["content"]), "blobId": e["oid"]})
        self.send(200, {"id": name, "sha": oid, "private": repo.private, "siblings": sib})

    def json_body(self, what):
        try:
            v = json.loads(self.body() or b"null")
        except (ValueError, UnicodeDecodeError) as e:
            raise HTTPError(400, "invalid %s: %s" % (what, e))
        if not isinstance(v, dict):
            raise HTTPError(400, "invalid %s: a JSON object is expected" % what)
        return v

    def preupload(self, rtype, name, rev):
        """POST /api/{type}s/{repo}/preupload/{rev} {files: [{path, size, sample}], gitAttributes?}
        -> {files: [{path, uploadMode: lfs|regular, shouldIgnore, oid?}], commitOid}. lfs: tracked by
        .gitattributes (the request's, else the revision's), REGULAR_MAX bytes or more, or a binary
        sample (a NUL byte, or not UTF-8); oid: the current file's (SHA-256 or git blob SHA-1)."""
        repo, _ = self.hub_repo(rtype, name, "write")
        req = self.json_body("preupload payload")
        files = req.get("files")
        if not isinstance(files, list):
            raise HTTPError(400, "invalid preupload payload: files must be a list")
        with self.state.hub_lock:
            oid = repo.resolve_rev(rev)
            tree = repo.commits[oid]["tree"] if oid else None
        if oid is None:
            raise self.rev_missing(rev)
        ga = req.get("gitAttributes")
        if not isinstance(ga, str):
            cur = tree.get(".gitattributes")
            ga = cur["content"].decode("utf-8", "replace") if cur and not cur["lfs"] else ""
        pats = lfs_patterns(ga)
        out = []
        import base64
        for f in files:
            if not isinstance(f, dict) or not valid_repo_path(f.get("path")) or not isinstance(f.get("size"), int):
                raise HTTPError(400, "invalid preupload payload: each file needs a path and a size")
            try:
                sample = base64.b64decode(f.get("sample") or "", validate=True)
            except ValueError:
                raise HTTPError(400, "invalid preupload payload: sample of %s is not base64" % f["path"])
            lfs = f["size"] > 0 and (lfs_tracked(f["path"], pats) or f["size"] >= REGULAR_MAX or looks_binary(sample))
            e = {"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}
            cur = tree.get(f["path"])
            if cur:
                e["oid"] = self.lfs_info(cur)[2] if cur["lfs"] else cur["oid"]
            out.append(e)
        self.send(200, {"files": out, "commitOid": oid})

    def lfs_batch(self, rtype, name):
        """POST /{repo}.git/info/lfs/objects/batch (Git LFS batch API). upload with "xet" in
        transfers: {transfer: xet, objects, hash_algo: sha256}; an object the CAS already has (a
        registered file with that SHA-256 and size) has no actions (nothing to upload); the others an
        upload action whose href is the xet-write-token URL and whose header holds X-Xet-Cas-Url,
        X-Xet-Access-Token, X-Xet-Token-Expiration, X-Xet-Session-Id (what HF's clients read).
        Without "xet" every object not there gets a 422 error (this double stores Xet only).
        download: basic, a signed URL per known object, a 404 error per unknown one."""
        req = self.json_body("LFS batch request")
        op, objs = req.get("operation"), req.get("objects")
        if op not in ("upload", "download") or not isinstance(objs, list):
            raise HTTPError(422, "operation must be upload or download, objects a list")
        repo, _ = self.hub_repo(rtype, name, "write" if op == "upload" else "read")
        st = self.state
        ref = ((req.get("ref") or {}).get("name") or "main")
        ref = ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else ref
        with st.hub_lock:
            if ref not in repo.branches:
                ref = "main"
        transfers = req.get("transfers") or ["basic"]
        xet = op == "upload" and "xet" in transfers
        out, action = [], None
        for o in objs:
            if not isinstance(o, dict) or not isinstance(o.get("oid"), str) or not re.fullmatch(r"[0-9a-f]{64}", o["oid"]) \
                    or not isinstance(o.get("size"), int) or o["size"] < 0:
                raise HTTPError(422, "each object needs a SHA-256 oid (64 lower-case hex digits) and a size")
            obj = {"oid": o["oid"], "size": o["size"]}
            with st.store.lock:
                fh = st.store.sha_index.get(o["oid"])
            have = fh is not None and st.store.file_size(fh) == o["size"]
            if op == "download":
                if have:
                    obj.update(authenticated=True, actions={"download": {"href": st.signed_bytes_url(fh),
                                                                         "expires_in": st.args.url_ttl}})
                else:
                    obj["error"] = {"code": 404, "message": "Object does not exist"}
            elif not have and not xet:
                obj["error"] = {"code": 422, "message": "this test double stores Xet only: send transfers [\"xet\"]"}
            elif not have:
                if action is None:
                    tok, exp = st.issue_token("write", (rtype, name, ref))
                    action = {"href": "%s/api/%s/%s/xet-write-token/%s" % (st.base(), rtype, name,
                                                                          urllib.parse.quote(ref, safe="")),
                              "header": {"X-Xet-Cas-Url": st.base(), "X-Xet-Access-Token": tok,
                                         "X-Xet-Token-Expiration": str(exp), "X-Xet-Session-Id": secrets.token_hex(16)},
                              "expires_in": st.args.token_ttl}
                obj.update(authenticated=True, actions={"upload": action})
            out.append(obj)
        self.send(200, {"transfer": "xet" if xet else "basic", "objects": out, "hash_algo": "sha256"},
                  ctype="application/vnd.git-lfs+json")

    def commit(self, rtype, name, rev, q):
        """POST /api/{type}s/{repo}/commit/{branch}[?create_pr=1], NDJSON: a header line {"key":
        "header", "value": {summary, description?, parentCommit?}} then operations: file {path,
        content, encoding: base64|utf-8} (a regular file: under REGULAR_MAX bytes, not binary),
        lfsFile {path, algo: sha256, oid, size} (the CAS must hold a file with that SHA-256 and size:
        the SHA-256 metadata of an uploaded shard links it to its Xet file; else 400, the Hub's
        "LFS pointer pointed to a file that does not exist"), deletedFile {path}, deletedFolder
        {path}. parentCommit other than the branch head: 412. -> {success, commitOid, commitUrl,
        hookOutput[, pullRequestUrl]}; the files resolve at once."""
        import base64
        repo, _ = self.hub_repo(rtype, name, "write")
        st = self.state
        create_pr = (q.get("create_pr") or ["0"])[0] in ("1", "true", "True")
        try:
            lines = [json.loads(x) for x in (self.body() or b"").decode("utf-8").splitlines() if x.strip()]
        except (ValueError, UnicodeDecodeError) as e:
            raise HTTPError(400, "invalid commit payload (NDJSON expected): %s" % e)
        if not lines or not isinstance(lines[0], dict) or lines[0].get("key") != "header" \
                or not isinstance(lines[0].get("value"), dict):
            raise HTTPError(400, "invalid commit payload: the first line must be the header")
        header = lines[0]["value"]
        summary = header.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            raise HTTPError(400, "invalid commit payload: the header needs a summary")
        ops = []
        for k, ln in enumerate(lines[1:], 2):
            v = ln.get("value") if isinstance(ln, dict) else None
            if not isinstance(v, dict) or ln.get("key") not in ("file", "lfsFile", "deletedFile", "deletedFolder"):
                raise HTTPError(400, "invalid commit payload: line %d: unsupported operation %r" % (
                    k, ln.get("key") if isinstance(ln, dict) else ln))
            if not valid_repo_path(v.get("path")) and not (ln["key"] == "deletedFolder" and isinstance(v.get("path"), str)):
                raise HTTPError(400, "Invalid path %r" % v.get("path"))
            key = ln["key"]
            if key == "file":
                enc = v.get("encoding", "utf-8")
                c = v.get("content")
                if not isinstance(c, str) or enc not in ("utf-8", "base64"):
                    raise HTTPError(400, "invalid commit payload: line %d: file needs content (utf-8 or base64)" % k)
                try:
                    data = base64.b64decode(c, validate=True) if enc == "base64" else c.encode("utf-8")
                except ValueError:
                    raise HTTPError(400, "invalid commit payload: line %d: content is not base64" % k)
                if len(data) >= REGULAR_MAX:
                    raise HTTPError(400, "Your push was rejected because it contains files larger than 10 MiB. Please use "
                                         "https://git-lfs.github.com/ to store large files. Offending file: - %s" % v["path"])
                if b"\0" in data:
                    raise HTTPError(400, "Your push was rejected because it contains binary files. Please use "
                                         "https://huggingface.co/docs/hub/xet to store binary files. Offending file: - %s"
                                    % v["path"])
                ops.append(("file", v["path"], regular_entry(data)))
            elif key == "lfsFile":
                if v.get("oldPath") is not None:
                    raise HTTPError(400, "invalid commit payload: line %d: lfsFile oldPath (rename) is not supported "
                                         "by this double" % k)
                oid, size = v.get("oid"), v.get("size")
                if v.get("algo") != "sha256" or not isinstance(oid, str) or not re.fullmatch(r"[0-9a-f]{64}", oid) \
                        or not isinstance(size, int):
                    raise HTTPError(400, "invalid commit payload: line %d: lfsFile needs algo sha256, a SHA-256 oid "
                                         "and a size" % k)
                with st.store.lock:
                    fh = st.store.sha_index.get(oid)
                if fh is None or st.store.file_size(fh) != size:
                    msg = DANGLING_LFS % v["path"]
                    raise HTTPError(400, msg, {"X-Error-Message": msg})
                ops.append(("lfs", v["path"], {"lfs": True, "xet": fh, "sha256": oid, "size": size}))
            else:
                ops.append((key, v["path"].strip("/"), None))
        with st.hub_lock:
            if rev not in repo.branches:
                raise self.rev_missing(rev)
            head = repo.branches[rev]
            parent = header.get("parentCommit")
            if parent is not None and parent not in repo.commits:
                raise HTTPError(400, "parentCommit %r is not a commit of %s" % (parent, name))
            if parent is not None and not create_pr and parent != head:
                raise HTTPError(412, "A commit has happened since. Please refresh and try again.")
            base = parent if create_pr and parent else head
            tree = dict(repo.commits[base]["tree"])
            for kind, path, e in ops:
                if kind == "deletedFile":
                    if path not in tree:
                        raise HTTPError(404, "Entry not found: %s" % path, {"X-Error-Code": "EntryNotFound"})
                    del tree[path]
                elif kind == "deletedFolder":
                    for p in [p for p in tree if p.startswith(path + "/") or not path]:
                        del tree[p]
                else:
                    tree[path] = e
            oid = repo.add_commit(tree, base, summary)
            out = {"success": True, "commitOid": oid, "hookOutput": "",
                   "commitUrl": "%s/%s%s/commit/%s" % (st.base(), repo.prefix(), name, oid)}
            if create_pr:
                repo.prs += 1
                repo.branches["refs/pr/%d" % repo.prs] = oid
                out["pullRequestUrl"] = "%s/%s%s/discussions/%d" % (st.base(), repo.prefix(), name, repo.prs)
            else:
                repo.branches[rev] = oid
        self.send(200, out)

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

    def batch(self, file_ids=None):
        """POST: a JSON array of {"prefix","hash"}; GET: the file_id query values."""
        raw = self.body() if file_ids is None else b""
        self.check_cas_auth()
        if file_ids is None:
            try:
                keys = json.loads(raw)
                hashes = sorted({k["hash"] for k in keys})
            except (ValueError, TypeError, KeyError):
                raise HTTPError(400, "malformed body")
        else:
            hashes = sorted(set(file_ids))
        if not hashes and file_ids is not None:
            raise HTTPError(400, "no file_id")
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

    def bytes_get(self, fh, q):
        """The whole file or a Range of it, reassembled here: the Location of a resolve (an expiring
        signed URL, as the Hub's CDN). Not the CAS protocol."""
        st = self.state
        fh = self.hexarg(fh)
        try:
            exp, sig = int(q["Expires"][0]), q["Signature"][0]
        except (KeyError, ValueError, IndexError):
            raise HTTPError(403, "missing or malformed signature parameters")
        if not hmac.compare_digest(sig, st.sign("/_bytes/" + fh, "", exp)):
            raise HTTPError(403, "bad signature")
        if exp < time.time():
            raise HTTPError(403, "URL expired")
        f = st.store.file(fh)
        if f is None:
            raise HTTPError(404, "no such file")
        size = sum(t[3] for t in f["terms"])

        def get(a, b):  # bytes [a, b] of the file: only the chunks that hold them decoded
            out, pos, cache = bytearray(), 0, {}
            for xh, s, e, n in f["terms"]:
                if pos > b:
                    break
                if pos + n <= a:
                    pos += n
                    continue
                if xh not in cache:
                    cache.clear()
                    cache[xh] = st.store.read_xorb(xh)
                    if cache[xh] is None:
                        raise HTTPError(500, "xorb missing")
                data = cache[xh]
                offs, hdrs, _ = st.store.layout(xh)
                for i in range(s, e):
                    sch, clen, ulen = hdrs[i]
                    if pos + ulen > a and pos <= b:
                        d = decode_chunk(sch, data[offs[i] + 8:offs[i] + 8 + clen], ulen)
                        out += d[max(0, a - pos):b + 1 - pos]
                    pos += ulen
            return bytes(out)
        self.send_ranged(get, "application/octet-stream", {"ETag": '"%s"' % (f.get("sha256") or fh)}, size=size)

    # ---- uploads (phase 2)
    def xorb_upload(self, prefix, xh):
        """POST /v1/xorbs/default/{hash}: every chunk decoded and hashed again, the Merkle hash of
        the chunks must be the name; then stored (written to a temporary file first, which the Node
        verifier reads)."""
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
        if len(raw) > 65 * 1024 * 1024:
            raise HTTPError(400, "xorb larger than 64 MiB")
        st = self.state
        xd = os.path.join(st.store.root, "xorbs")
        tmp = os.path.join(xd, ".upload-%s-%s" % (xh, secrets.token_hex(6)))
        with open(tmp, "wb") as f:
            f.write(raw)
        try:
            try:
                got, chunks, end = st.verifier.xorb(tmp, raw)
            except FormatError as e:
                raise HTTPError(400, "bad xorb: %s" % e)
            if end > 64 * 1024 * 1024:
                raise HTTPError(400, "xorb larger than 64 MiB")
            if hash_to_str(got) != xh:
                raise HTTPError(400, "xorb hash mismatch: body hashes to %s" % hash_to_str(got))
            inserted = st.store.xorb_path(xh) is None
            if inserted:
                p = os.path.join(xd, xh + ".xorb")
                os.replace(tmp, p)
                tmp = None
                with st.store.lock:
                    st.store.xorb_paths[xh] = p
                    st.store.verified[xh] = chunks
        finally:
            if tmp:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
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
            # "retryable" is required: xet-core's ShardUploadEvent::Error has no serde default
            # for it, and an event it cannot parse is fatal (tests/server-design.md §1.2). A
            # refused shard is not worth retrying.
            lines.append({"type": "error", "message": e.msg, "retryable": False})
            status = "error-event"
        body = "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines)
        self.send(200, body, ctype="application/x-ndjson", headers={"Cache-Control": "no-cache"},
                  fault=None if status == "ok" else status)

    def shard_register(self, raw):
        """Validates and registers an upload shard; returns 0 (existed) or 1, or raises HTTPError(400).
        Checked as the CAS API requires: at most 64 MiB; every xorb it lists or cites uploaded; its
        CAS info = the xorbs' real chunks (hashes, sizes, starts, byte totals); per file each term
        inside its xorb with the right unpacked size, every verification hash (flag 0x80000000,
        required) recomputed, the file hash = the Merkle file hash of its chunks, and a SHA-256
        metadata extension (0x40000000) = the SHA-256 of the file's bytes (its xorbs decoded)."""
        st = self.state
        store, ver = st.store, st.verifier
        if len(raw) > 64 * 1024 * 1024:
            raise HTTPError(400, "shard larger than 64 MiB")
        try:
            files, xorbs, _ = parse_shard(raw)
        except (FormatError, struct.error) as e:
            raise HTTPError(400, "bad shard: %s" % e)

        def bad(msg):
            raise HTTPError(400, "shard refused: " + msg)

        try:
            for xh, info in xorbs.items():
                known = store.chunks_of(xh, ver)
                if known is None:
                    bad("its CAS info lists xorb %s, which was not uploaded" % xh)
                ents = info["chunks"]
                if len(ents) != len(known):
                    bad("xorb %s: %d chunks listed, the xorb has %d" % (xh, len(ents), len(known)))
                pos = 0
                for i, ((h, b, n), (kh, kn)) in enumerate(zip(ents, known)):
                    if h != kh or n != kn or b != pos:
                        bad("xorb %s chunk %d: listed as %s, %d bytes at %d; the xorb has %s, %d bytes at %d"
                            % (xh, i, hash_to_str(h), n, b, hash_to_str(kh), kn, pos))
                    pos += n
                if info["bytes_in_cas"] != pos:
                    bad("xorb %s: num_bytes_in_cas %d, its chunks add up to %d" % (xh, info["bytes_in_cas"], pos))
                offs, _, disk = store.layout(xh)
                if info["bytes_on_disk"] not in (offs[-1], disk):
                    bad("xorb %s: num_bytes_on_disk %d, the xorb is %d bytes" % (xh, info["bytes_on_disk"], disk))
            for fh, f in files.items():
                terms = f["terms"]
                if f["verif"] is None and terms:
                    bad("file %s has no verification entries (flag 0x80000000)" % fh)
                groups, allc, segs = [], [], []
                for k, (xh, s, e, n) in enumerate(terms):
                    known = store.chunks_of(xh, ver)
                    if known is None:
                        bad("file %s term %d cites xorb %s, which was not uploaded" % (fh, k, xh))
                    if e > len(known):
                        bad("file %s term %d: chunks [%d, %d) past the end of xorb %s (%d chunks)"
                            % (fh, k, s, e, xh, len(known)))
                    seg = known[s:e]
                    if sum(c[1] for c in seg) != n:
                        bad("file %s term %d: %d unpacked bytes, chunks [%d, %d) of xorb %s hold %d"
                            % (fh, k, n, s, e, xh, sum(c[1] for c in seg)))
                    groups.append([c[0] for c in seg])
                    allc += seg
                    segs.append((xh, s, e))
                for k, (g, v) in enumerate(zip(ver.verification(groups), f["verif"] or [])):
                    if g != v:
                        bad("file %s term %d: verification hash %s, recomputed %s" % (fh, k, hash_to_str(v), hash_to_str(g)))
                got = hash_to_str(ver.merkle(allc, file=True))
                if got != fh:
                    bad("file hash %s, the Merkle file hash of its chunks is %s" % (fh, got))
                if f["sha256"] is not None:
                    sha = ver.sha256(store, segs) if segs else hashlib.sha256(b"").hexdigest()
                    if sha != f["sha256"]:
                        bad("file %s: SHA-256 metadata %s, its bytes hash to %s" % (fh, f["sha256"], sha))
        except FormatError as e:  # a stored xorb the verifier could not read
            raise HTTPError(500, "stored xorb unreadable: %s" % e)
        name = hashlib.sha256(raw).hexdigest()
        p = os.path.join(store.root, "shards", name + ".shard")
        existed = os.path.exists(p)
        if not existed:
            tmp = p + ".tmp%d" % threading.get_ident()
            with open(tmp, "wb") as f:
                f.write(raw)
            os.replace(tmp, p)
        with store.lock:
            for k, v in files.items():
                store.files.setdefault(k, v)
                if v.get("sha256"):
                    store.sha_index[v["sha256"]] = k
            for k, v in xorbs.items():
                store.cas.setdefault(k, v)
                for ch, _, _ in v["chunks"]:
                    store.chunk_index.setdefault(ch, k)
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
    ap.add_argument("--hf-token", help="the admin Hub token: may read and write every repo (without it and "
                                       "without --user, every request may)")
    ap.add_argument("--user", action="append", default=[], metavar="TOKEN=[read|write:TYPE/REPO,...]",
                    help="a Hub token with these grants only (empty: a valid token with access to nothing)")
    ap.add_argument("--repo", action="append", default=[], metavar="TYPE/REPO[:public]",
                    help="a repo (private unless :public); models/acme/demo and the --file repos always exist")
    ap.add_argument("--verifier", choices=("auto", "node", "python"), default="auto",
                    help="upload verification: HF's code under Node (tests/hubverify.mjs), or pure Python")
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
        for u in args.user:
            tok, user = parse_user_spec(u)
            st.users[tok] = user
        st.add_repo("models", "acme/demo")  # the repo the CLI tests use
        for r in args.repo:
            spec, _, vis = r.partition(":")
            t, _, name = spec.partition("/")
            if t not in REPO_TYPES or not name or vis not in ("", "public", "private"):
                raise ValueError("--repo wants TYPE/REPO[:public]: %r" % r)
            st.add_repo(REPO_TYPES[t], name).private = vis != "public"
        for s in specs:
            key, fh = parse_file_spec(s)
            st.add_file(key, fh)
        for fs in args.fault:
            name, _, cnt = fs.partition(":")
            st.set_fault(name, int(cnt) if cnt else 1)
    except ValueError as e:
        ap.error(str(e))
    if args.verifier == "auto" and os.environ.get("CI") == "true" and not oracle_ready(oracle_work()) and (
            shutil.which("node") is None or not os.path.isfile(os.path.join(oracle_source(), "lib", "wasm.mjs"))):
        ap.error("CI=true: uploads are verified with Node and the oracle (%s), which are missing" % oracle_source())
    st.verifier.start()
    Handler.state = st
    httpd = Server(("127.0.0.1", args.port), Handler)
    st.port = httpd.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % st.port)
        os.replace(tmp, args.port_file)
    print("listening on http://127.0.0.1:%d" % st.port, flush=True)
    log("%d files, %d xorbs, %d repos" % (len(store.files), len(store.xorb_paths), len(st.repos)))

    def stop(*_):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        st.verifier.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
