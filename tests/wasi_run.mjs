// Runs a wasm32-wasi test program in Node's WASI sandbox (node:wasi, Node >= 20):
//   node tests/wasi_run.mjs PROGRAM.wasm [ARGS...]
// The current directory is preopened as "." (the tests read tests/vectors/... by relative
// path) and a fresh temporary directory as /tmp; nothing else of the host is reachable.
// Exits with the program's exit status.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WASI } from 'node:wasi';

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: node tests/wasi_run.mjs PROGRAM.wasm [ARGS...]');
  process.exit(2);
}
const tmp = mkdtempSync(join(tmpdir(), 'cas-wasi-'));
const wasi = new WASI({
  version: 'preview1',
  args: [file, ...args],
  env: {},
  preopens: { '.': process.cwd(), '/tmp': tmp },
  returnOnExit: true,
});
let status;
try {
  const module = await WebAssembly.compile(readFileSync(file));
  // Each WASI function is called through a JS wrapper: Node 20 lets wasm call them directly
  // (V8 fast API calls), and that path corrupts the JS heap on long runs (segfaults or
  // "unreachable code" in the GC after the program has printed its results).
  const imports = wasi.getImportObject();
  for (const ns of Object.values(imports))
    for (const [name, fn] of Object.entries(ns)) ns[name] = (...a) => fn(...a);
  const instance = await WebAssembly.instantiate(module, imports);
  status = wasi.start(instance);
} catch (e) {
  console.error(`wasi_run: ${file}: ${e && e.stack ? e.stack : e}`);
  status = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(status);
