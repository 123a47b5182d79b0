// hubverify.mjs -- the upload verifier of tests/hubserver.py (a TEST DOUBLE; not product code).
//
//   node tests/hubverify.mjs ORACLE_DIR
//
// A persistent child process: hubserver.py writes one JSON request per line on stdin and reads
// one JSON answer per line on stdout. Everything is computed with Hugging Face's own code from
// the oracle beside the repo (../shared/oracle, npm-installed; see its README), none of cas.h:
//   chunk hashes     @huggingface/blake3-jit (keyed BLAKE3, DATA_KEY), as HF's JS client hashes
//   xorb/file/verification hashes   xet-core compiled to WebAssembly (lib/wasm.mjs)
//   LZ4 / BG4        the lz4js and bg4_regroup_bytes of @huggingface/hub (build/hub-internals.mjs)
//   SHA-256          node:crypto
// Requests (hashes in the API's string form):
//   {"op":"xorb","path":P}   -> {"hash", "chunks": [[hash, unpacked], ...], "records_end", "size"}
//       every chunk of the serialized xorb P decoded (a XETBLOB footer ends the records) and hashed
//   {"op":"merkle","nodes":[[hash, len], ...],"file":bool} -> {"hash"} (xorb hash, or file hash)
//   {"op":"verification","terms":[[hash, ...], ...]} -> {"hashes": [...]}
//   {"op":"sha256","segments":[[P, first chunk, end chunk], ...]} -> {"sha256"}
//   {"op":"ping"} -> {"ok": true, "xet_core": commit}
// An input the checks refuse answers {"error": message}; the process keeps running.
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import readline from "node:readline";
import { pathToFileURL } from "node:url";

const oracle = path.resolve(process.argv[2] || "");
const url = (p) => pathToFileURL(path.join(oracle, p)).href;
const W = await import(url("lib/wasm.mjs"));
const { Hasher } = await import(url("node_modules/@huggingface/blake3-jit/dist/esm/index.js"));
const internals = path.join(oracle, "build/hub-internals.mjs");
if (!fs.existsSync(internals)) {
	const { buildInternals } = await import(url("build-internals.mjs"));
	await buildInternals({ quiet: true });
}
const I = await import(pathToFileURL(internals).href);

const DATA_KEY = Uint8Array.from([102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28, 157, 228,
	33, 16, 155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41]);
const MAX_CHUNK = 128 * 1024;
const MAX_CHUNKS = 8192;
const hasher = Hasher.newKeyed(DATA_KEY);

class Refused extends Error {}

/** The chunk records of a serialized xorb: [{offset, clen, scheme, ulen}], and where they end. */
function records(buf) {
	const out = [];
	let pos = 0;
	while (pos < buf.length) {
		if (buf.length - pos >= 7 && buf.toString("latin1", pos, pos + 7) === "XETBLOB") break;
		if (pos + 8 > buf.length) throw new Refused(`chunk ${out.length}: truncated header at byte ${pos}`);
		const v = buf[pos], scheme = buf[pos + 4];
		const clen = buf[pos + 1] | (buf[pos + 2] << 8) | (buf[pos + 3] << 16);
		const ulen = buf[pos + 5] | (buf[pos + 6] << 8) | (buf[pos + 7] << 16);
		if (v !== 0) throw new Refused(`chunk ${out.length}: header version ${v}`);
		if (scheme > 2) throw new Refused(`chunk ${out.length}: compression scheme ${scheme}`);
		if (ulen < 1 || ulen > MAX_CHUNK) throw new Refused(`chunk ${out.length}: uncompressed size ${ulen}`);
		if (clen < 1 || (scheme === 0 && clen !== ulen)) throw new Refused(`chunk ${out.length}: compressed size ${clen}`);
		if (pos + 8 + clen > buf.length) throw new Refused(`chunk ${out.length}: truncated payload`);
		out.push({ offset: pos + 8, clen, scheme, ulen });
		if (out.length > MAX_CHUNKS) throw new Refused(`more than ${MAX_CHUNKS} chunks`);
		pos += 8 + clen;
	}
	return { recs: out, end: pos };
}

function decode(buf, r, i) {
	const payload = buf.subarray(r.offset, r.offset + r.clen);
	if (r.scheme === 0) return payload;
	let d;
	try {
		// one byte of room more than the header says: a payload that decodes to more is caught
		d = I.lz4Decompress(payload, r.ulen + 1);
	} catch (e) {
		throw new Refused(`chunk ${i}: LZ4: ${e.message}`);
	}
	if (d.length !== r.ulen) throw new Refused(`chunk ${i}: decodes to a size other than its header's ${r.ulen}`);
	return r.scheme === 2 ? I.bg4_regroup_bytes(d) : d;
}

function chunkHash(data) {
	hasher.reset();
	hasher.update(data);
	return W.bytesToHex(hasher.finalize());
}


const ops = {
	ping: () => ({ ok: true, xet_core: W.XET_CORE_COMMIT }),
	xorb({ path: p }) {
		const buf = fs.readFileSync(p);
		const { recs, end } = records(buf);
		if (!recs.length) throw new Refused("no chunks");
		const chunks = recs.map((r, i) => [chunkHash(decode(buf, r, i)), r.ulen]);
		const hash = W.compute_xorb_hash(chunks.map(([h, l]) => ({ hash: h, length: l })));
		return { hash, chunks, records_end: end, size: buf.length };
	},
	merkle({ nodes, file }) {
		const list = nodes.map(([h, l]) => ({ hash: h, length: l }));
		return { hash: file ? W.compute_file_hash(list) : W.compute_xorb_hash(list) };
	},
	verification: ({ terms }) => ({ hashes: terms.map((t) => W.compute_verification_hash(t)) }),
	sha256({ segments }) {
		const h = crypto.createHash("sha256");
		let cur = { path: null };
		for (const [p, s, e] of segments) {
			if (cur.path !== p) {
				const buf = fs.readFileSync(p);
				cur = { path: p, buf, recs: records(buf).recs };
			}
			const { buf, recs } = cur;
			if (e > recs.length || s >= e) throw new Refused(`chunks [${s}, ${e}) not in ${path.basename(p)}`);
			for (let i = s; i < e; i++) h.update(decode(buf, recs[i], i));
		}
		return { sha256: h.digest("hex") };
	},
};

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
	let answer;
	try {
		const req = JSON.parse(line);
		const op = ops[req.op];
		if (!op) throw new Refused(`unknown op ${req.op}`);
		answer = op(req);
	} catch (e) {
		answer = { error: e instanceof Refused ? e.message : `${e.name}: ${e.message}` };
	}
	process.stdout.write(JSON.stringify(answer) + "\n");
}
