#!/usr/bin/env node
// Builds the app with esbuild into dist-esbuild/:
//   dist-esbuild/index.html, assets/main.js (the app and Gyre), assets/worker.js (Gyre's engine
//   worker, its own bundle), assets/chunk-*.js (the wasm glue, loaded on demand), assets/wasm/*.wasm.
//   node build-esbuild.mjs
import { build } from 'esbuild';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist-esbuild');
// The installed package's wasm folder (package.json exports "./wasm/*").
const wasmDir = dirname(createRequire(join(here, 'package.json')).resolve('gyre/wasm/gyre-simd.wasm'));

await rm(out, { recursive: true, force: true });
await build({
  absWorkingDir: here,
  entryPoints: { main: 'src/main.js', worker: 'gyre/worker' },
  outdir: join(out, 'assets'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  logLevel: 'warning',
  // Relative to the page (index.html), where the engine resolves them.
  define: { GYRE_ASSETS: JSON.stringify({ wasmUrl: 'assets/wasm/gyre-{flavour}.wasm', workerUrl: 'assets/worker.js' }) },
});
await mkdir(join(out, 'assets', 'wasm'), { recursive: true });
for (const name of await readdir(wasmDir)) {
  if (name.endsWith('.wasm')) await copyFile(join(wasmDir, name), join(out, 'assets', 'wasm', name));
}
const html = await readFile(join(here, 'index.html'), 'utf8');
await writeFile(join(out, 'index.html'), html.replace('./src/main.js', './assets/main.js'));
console.log(`esbuild: built ${out}`);
