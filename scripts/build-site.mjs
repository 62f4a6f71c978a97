#!/usr/bin/env node
// `npm run build:site`: the demo site as a static folder, dist/site/, for any static host (no server
// code, no special headers: the engine uses no threads, so cross-origin isolation is not needed).
// It keeps the repository's layout, so every relative URL works unchanged:
//   dist/site/index.html            → redirects to web/demos/
//   dist/site/web/demos/            the pages, their scripts, styles and held-out text
//   dist/site/web/lib/              the JS API and every file of web/lib/wasm (each flavour's .js, .wasm)
//   dist/site/models/<name>/        config.json, model.safetensors and the card of every shipped model
//   dist/site/manifest.json         every file with its size, for checking a deployment
//   dist/site/_headers              the response headers to send (Netlify / Cloudflare Pages syntax;
//                                   the README lists them for other hosts)
//   node scripts/build-site.mjs [--out dist/site]
import { copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const outIndex = process.argv.indexOf('--out');
const out = resolve(repo, outIndex >= 0 ? process.argv[outIndex + 1] : 'dist/site');

// The flavours the engine cannot do without; web/lib/wasm is copied whole (other flavours too).
const WASM = ['gyre-relaxed.js', 'gyre-relaxed.wasm', 'gyre-simd.js', 'gyre-simd.wasm', 'gyre-scalar.js', 'gyre-scalar.wasm'];

// What a static host should send: the site's strict CSP on everything, CORS and
// Cross-Origin-Resource-Policy: cross-origin on the library and the models (so other sites can load
// them), nosniff. No COOP/COEP: the engine does not need cross-origin isolation.
const HEADERS = `/*
  Content-Security-Policy: default-src 'self'; script-src 'self' 'wasm-unsafe-eval'
  X-Content-Type-Options: nosniff
/web/lib/*
  Access-Control-Allow-Origin: *
  Cross-Origin-Resource-Policy: cross-origin
/models/*
  Access-Control-Allow-Origin: *
  Cross-Origin-Resource-Policy: cross-origin
`;
const MODEL_FILES = /^(config\.json|model\.safetensors|README\.md|.*\.png)$/;

async function exists(path) {
  return stat(path).then(() => true, () => false);
}

async function copyTree(from, to, keep = () => true) {
  let count = 0;
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (entry.isDirectory()) {
      count += await copyTree(source, join(to, entry.name), keep);
    } else if (keep(entry.name, source)) {
      await mkdir(to, { recursive: true });
      await copyFile(source, join(to, entry.name));
      count++;
    }
  }
  return count;
}

async function listFiles(root, dir = root) {
  const files = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...await listFiles(root, path));
    else files.push({ path: relative(root, path).split('\\').join('/'), bytes: (await stat(path)).size });
  }
  return files;
}

async function main() {
  const missing = [];
  for (const name of WASM) if (!await exists(join(repo, 'web/lib/wasm', name))) missing.push(`web/lib/wasm/${name}`);
  if (missing.length) {
    throw new Error(`${missing.join(', ')} missing: build the engine first (npm run build)`);
  }
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });

  await copyTree(join(repo, 'web/demos'), join(out, 'web/demos'));
  await copyTree(join(repo, 'web/lib'), join(out, 'web/lib'),
    (name, source) => !name.startsWith('.') && (dirname(source).endsWith('wasm') || /\.(js|d\.ts)$/.test(name)));

  const models = [];
  for (const entry of await readdir(join(repo, 'models'), { withFileTypes: true })) {
    const dir = join(repo, 'models', entry.name);
    if (!entry.isDirectory() || !await exists(join(dir, 'config.json')) || !await exists(join(dir, 'model.safetensors'))) continue;
    await copyTree(dir, join(out, 'models', entry.name), (name, source) => dirname(source) === dir && MODEL_FILES.test(name));
    models.push(entry.name);
  }

  await writeFile(join(out, 'index.html'), `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta http-equiv="refresh" content="0; url=web/demos/">
  <title>Gyre</title>
</head>
<body><p><a href="web/demos/">Gyre demos</a></p></body>
</html>
`);
  await writeFile(join(out, '_headers'), HEADERS);
  const files = await listFiles(out);
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  await writeFile(join(out, 'manifest.json'), `${JSON.stringify({ models, files }, null, 1)}\n`);
  console.log(`build-site: ${relative(repo, out) || out}: ${files.length + 1} files, ` +
    `${(total / 1048576).toFixed(1)} MB; models: ${models.join(', ') || 'none'}`);
  console.log(`  serve it with any static server, e.g. node scripts/serve.mjs --root ${relative(repo, out)}`);
}

main().catch((error) => {
  console.error(`build-site: ${error.message}`);
  process.exit(1);
});
