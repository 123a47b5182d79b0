#!/usr/bin/env node
// Writes V2 QueryReconstructionResponse JSON exactly as Hugging Face's TypeScript client
// consumes it (the oracle's hfReconstruct stub serves JSON.stringify(info) to XetBlob), after
// checking that HF's XetBlob reconstructs the expected bytes from it. For tests/test_json.c.
//   node tests/oracle/gen-recon.mjs ORACLE_DIR tests/vectors/json     (ORACLE_DIR: a copy of shared/oracle after npm ci)
// Writes OUT_DIR/recon_v2_oracle{,_range}.json and .expect (what cas_recon_parse must return).
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [oracle, out] = process.argv.slice(2);
if (!oracle || !out) { console.error("usage: gen-recon.mjs ORACLE_DIR OUT_DIR"); process.exit(2); }
const imp = (p) => import(pathToFileURL(path.join(oracle, p)).href);
const G = await imp("lib/gen.mjs");
const { parseXorbLayout } = await imp("lib/formats.mjs");
const { hfUpload, hfReconstruct } = await imp("lib/hubops.mjs");

// two files -> two xorbs (separate uploads), as selftest.mjs section 6 builds them
const d1 = G.concat(G.textBytes(600000, 6), G.floatBytes(600000, 7), G.randomBytes(300000, 55));
const d2 = G.concat(G.randomBytes(250000, 77), G.textBytes(300000, 78));
const up1 = await hfUpload([{ path: "a", data: d1 }]);
const up2 = await hfUpload([{ path: "b", data: d2 }]);
const X = [up1.xorbs[0], up2.xorbs[0]];
const lay = X.map((x) => parseXorbLayout(x.bytes));
const offs = lay.map((l) => { const o = [0]; for (const c of l.chunks) o.push(c.offset + 8 + c.compressedLength); return o; });
const raw = lay.map((l) => { const o = [0]; for (const c of l.chunks) o.push(o[o.length - 1] + c.uncompressedLength); return o; });
const data = [d1, d2];
const n0 = lay[0].chunks.length, n1 = lay[1].chunks.length;
const term = (x, s, e) => ({ hash: X[x].hash, unpacked_length: raw[x][e] - raw[x][s], range: { start: s, end: e } });
const desc = (x, s, e) => ({ chunks: { start: s, end: e }, bytes: { start: offs[x][s], end: offs[x][e] - 1 } });
const terms = [[0, 2, 6], [1, 0, n1], [0, n0 - 3, n0], [0, 2, 6], [1, 1, 3]];
const info = {
	offset_into_first_range: 0,
	terms: terms.map(([x, s, e]) => term(x, s, e)),
	xorbs: {
		[X[0].hash]: [{ url: "http://xorb.test/" + X[0].hash + "?X-Xet-Signed-Range=bytes%3D0", ranges: [desc(0, 2, 6), desc(0, n0 - 3, n0)] }],
		[X[1].hash]: [{ url: "http://xorb.test/" + X[1].hash, ranges: [desc(1, 0, n1)] }],
	},
};
const expect = G.concat(...terms.map(([x, s, e]) => data[x].subarray(raw[x][s], raw[x][e])));
const load = (h) => X.find((x) => x.hash === h).bytes;
const rec = await hfReconstruct(info, load);
if (Buffer.compare(Buffer.from(rec.data), Buffer.from(expect)) !== 0) throw new Error("HF XetBlob disagrees (full)");
const info2 = { ...info, offset_into_first_range: 1234 };
const rec2 = await hfReconstruct(info2, load, { start: 5000, end: 5000 + 70000 });
if (Buffer.compare(Buffer.from(rec2.data), Buffer.from(expect.subarray(1234, 1234 + 70000))) !== 0) throw new Error("HF XetBlob disagrees (range)");

function expectText(inf) {
	const l = [`offset ${inf.offset_into_first_range}`];
	for (const t of inf.terms) l.push(`term ${t.hash} ${t.range.start} ${t.range.end} ${t.unpacked_length}`);
	for (const [h, es] of Object.entries(inf.xorbs)) for (const e of es) {
		l.push(`fetch ${h} ${e.url}`);
		for (const r of e.ranges) l.push(`range ${r.chunks.start} ${r.chunks.end} ${r.bytes.start} ${r.bytes.end}`);
	}
	return l.join("\n") + "\n";
}
fs.mkdirSync(out, { recursive: true });
for (const [name, inf] of [["recon_v2_oracle", info], ["recon_v2_oracle_range", info2]]) {
	fs.writeFileSync(path.join(out, name + ".json"), JSON.stringify(inf)); // byte-for-byte what the stub serves
	fs.writeFileSync(path.join(out, name + ".expect"), expectText(inf));
}
console.log(`ok: HF XetBlob reconstructs both; ${info.terms.length} terms, xorbs ${n0} + ${n1} chunks`);
