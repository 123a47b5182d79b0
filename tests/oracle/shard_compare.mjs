// Compares `cas shard dump --json` (argv[2]) with `xet-oracle.mjs parse-shard` (argv[3]) of the
// same shard: the oracle's own layout reader (shard.md) and HF's parseShardData (shardParser.ts).
// Prints "N passed, M failed"; exit 1 on a mismatch.
import fs from "node:fs";
const ours = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const oracle = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
const L = oracle.layout, H = oracle.hf;
let pass = 0, fail = 0;
const eq = (a, b, what) => {
	if (JSON.stringify(a) === JSON.stringify(b)) pass++;
	else { fail++; console.error(`MISMATCH ${what}: ours ${JSON.stringify(a)} oracle ${JSON.stringify(b)}`); }
};
const zeros = "0".repeat(32);
eq(L.size, ours.size, "size");
eq(L.header.version, 2, "header version");
eq(L.header.footerSize, ours.footer_size, "footer_size");
eq(L.header.tagHex, "48465265706f4d6574614461746100556967456a7b815783a5bdd95ccdd14aa9", "tag");
eq(L.files.length, ours.files.length, "file count");
ours.files.forEach((f, i) => {
	const g = L.files[i] ?? {};
	eq(g.offset, f.offset, `file ${i} offset`);
	eq(g.fileHash, f.hash, `file ${i} hash`);
	eq(g.flags, "0x" + f.flags.toString(16), `file ${i} flags`);
	eq(g.numEntries, f.terms.length, `file ${i} terms`);
	eq(g.sha256 ?? null, f.sha256, `file ${i} sha256`);
	f.terms.forEach((t, j) => {
		const u = (g.terms ?? [])[j] ?? {};
		eq([u.xorbHash, u.casFlags, u.unpackedBytes, u.chunkStart, u.chunkEnd, u.rangeHash ?? null],
			[t.xorb, t.flags, t.unpacked, t.start, t.end, t.verification], `file ${i} term ${j}`);
		if (t.verification) eq(u.verificationReserved, zeros, `file ${i} term ${j} reserved`);
	});
});
eq(L.fileBookend.tail, zeros, "file bookend");
eq(L.casBookend.tail, zeros, "CAS bookend");
eq(L.xorbs.length, ours.xorbs.length, "xorb count");
ours.xorbs.forEach((x, i) => {
	const y = L.xorbs[i] ?? {};
	eq([y.offset, y.xorbHash, y.casFlags, y.numEntries, y.numBytesInCas, y.numBytesOnDisk],
		[x.offset, x.hash, x.flags, x.chunks.length, x.bytes_in_xorb, x.bytes_on_disk], `xorb ${i}`);
	x.chunks.forEach((c, j) => {
		const d = (y.chunks ?? [])[j] ?? {};
		eq([d.chunkHash, d.byteRangeStart, d.unpackedBytes], [c.hash, c.start, c.size], `xorb ${i} chunk ${j}`);
	});
});
if (ours.footer) {
	const F = ours.footer;
	eq(L.casInfoOffset, F.xorb_info_offset, "CAS-info offset");
	// The oracle's layout reader takes the bytes right after the CAS bookend as the footer; our full
	// form has the lookup tables there, so it sees them as "trailing bytes" before the real footer.
	eq(L.footerOffset, F.file_lookup_offset || F.footer_offset, "end of CAS-info = start of lookup tables");
	if (F.file_lookup_offset === 0 || F.file_lookup_offset === F.footer_offset) {
		eq([L.footer.version, L.footer.fileInfoOffset, L.footer.casInfoOffset, L.footer.chunkHashHmacKey,
			L.footer.creationTimestamp, L.footer.keyExpiry, L.footer.footerOffset],
			[F.version, F.file_info_offset, F.xorb_info_offset, F.hmac_key, F.creation_time, F.key_expiry, F.footer_offset], "footer");
		eq(L.footer.reserved120_192_u64.slice(6), [F.stored_bytes_on_disk, F.materialized_bytes, F.stored_bytes], "footer totals");
	} else {
		eq(L.trailingBytes, F.footer_offset - F.file_lookup_offset, "lookup table bytes");
	}
	// HF's parseShardData reads the footer at size - footer_size and bounds the CAS-info section
	// with file_lookup_offset: it must list every xorb and chunk of a shard with lookup tables.
	eq(H.hmacKey, F.hmac_key, "hf hmacKey");
	if (F.file_lookup_offset !== 0)
		eq(H.xorbs, ours.xorbs.map((x) => ({ hash: x.hash, chunks: x.chunks.map((c) => ({ hash: c.hash, startOffset: c.start, unpackedLength: c.size })) })), "hf xorbs");
} else {
	eq(L.footer, undefined, "no footer");
	eq(L.trailingBytes, 0, "no trailing bytes");
}
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
