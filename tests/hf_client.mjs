// hf_client.mjs -- drives Hugging Face's own JavaScript client, @huggingface/hub 2.17.5 as
// published (the oracle's node_modules, see ../shared/oracle/README.md), against a Hub: the
// commands tests/hf_client.sh runs against tests/hubserver.py.
//
//   node tests/hf_client.mjs ORACLE_DIR HUB_URL HF_TOKEN COMMAND ARGS...
//     commit REPO TITLE PATH=FILE...   hub.commit() of the files; prints {"oid", "url"}
//     info REPO PATH                   hub.fileDownloadInfo(); prints its answer as JSON
//     download REPO PATH OUT [A-B]     hub.downloadFile() (XetBlob for Xet files, WebBlob for
//                                      regular ones); the whole file, or bytes A..B inclusive
//                                      (blob.slice), written to OUT; prints {"size", "xet"}
// A failure prints the client's error on stderr and exits 1 (its HTTP status as "status N").
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [oracle, hubUrl, token, cmd, ...args] = process.argv.slice(2);
const hub = await import(pathToFileURL(path.join(oracle, "node_modules/@huggingface/hub/dist/index.mjs")).href);
const accessToken = token || undefined;

try {
	if (cmd === "commit") {
		const [repo, title, ...files] = args;
		const operations = files.map((pf) => {
			const i = pf.indexOf("=");
			return { operation: "addOrUpdate", path: pf.slice(0, i), content: new Blob([fs.readFileSync(pf.slice(i + 1))]) };
		});
		const out = await hub.commit({ repo, hubUrl, accessToken, title, operations });
		console.log(JSON.stringify({ oid: out.commit.oid, url: out.commit.url }));
	} else if (cmd === "info") {
		const [repo, p] = args;
		console.log(JSON.stringify(await hub.fileDownloadInfo({ repo, path: p, hubUrl, accessToken })));
	} else if (cmd === "download") {
		const [repo, p, out, range] = args;
		const blob = await hub.downloadFile({ repo, path: p, hubUrl, accessToken });
		if (!blob) throw new Error("downloadFile: not found (null)");
		let part = blob;
		if (range) {
			const [a, b] = range.split("-").map(Number);
			part = blob.slice(a, b + 1);
		}
		fs.writeFileSync(out, new Uint8Array(await part.arrayBuffer()));
		console.log(JSON.stringify({ size: blob.size, xet: blob.constructor.name === "XetBlob" }));
	} else {
		throw new Error(`unknown command ${cmd}`);
	}
} catch (e) {
	console.error(`hf_client.mjs ${cmd}: ${e.message}${e.statusCode ? ` (status ${e.statusCode})` : ""}`);
	process.exit(1);
}
