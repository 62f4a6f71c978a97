// The npm package as a user gets it: `npm pack` holds the library, every wasm flavour and its glue,
// the types, README and LICENSE, nothing else; installed from the tarball into a fresh project
// outside the repository, `import 'gyre'` runs a kernel and generates text from a model directory
// given by path (examples/node/generate.mjs, run there).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const MODEL = 'gau-lm-softmax-plus';
const LIMIT_BYTES = 1 << 20;  // the packed size goal: under 1 MB

let folder;
let packed;  // npm pack --json's entry: { filename, size, unpackedSize, files: [{ path, size }] }

before(async () => {
  folder = await mkdtemp(join(tmpdir(), 'gyre-package-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', folder], { cwd: REPO });
  [packed] = JSON.parse(stdout);
});
after(async () => { if (folder) await rm(folder, { recursive: true, force: true }); });

test('npm pack: the library with every wasm flavour, types, README, LICENSE; nothing else', async (t) => {
  const files = packed.files.map((file) => file.path).sort();
  t.diagnostic(`${packed.filename}: ${packed.size} bytes packed (${(packed.size / 1e6).toFixed(3)} MB), ` +
    `${packed.unpackedSize} unpacked, ${files.length} files`);
  const wasm = (await readdir(join(REPO, 'web/lib/wasm'))).filter((name) => !name.startsWith('.'));
  for (const flavour of ['relaxed', 'simd', 'scalar']) {
    assert.ok(wasm.includes(`gyre-${flavour}.wasm`), `web/lib/wasm/gyre-${flavour}.wasm is not built`);
  }
  for (const name of wasm) assert.ok(files.includes(`web/lib/wasm/${name}`), `web/lib/wasm/${name} not packed`);
  for (const name of ['LICENSE', 'README.md', 'package.json', 'web/lib/index.js', 'web/lib/index.d.ts',
    'web/lib/worker.js']) {
    assert.ok(files.includes(name), `${name} not packed`);
  }
  for (const path of files) {
    assert.ok(['LICENSE', 'README.md', 'package.json'].includes(path) || path.startsWith('web/lib/'), `${path} packed`);
    assert.doesNotMatch(path, /\.(cpp|h|py|safetensors|map)$|(^|\/)(tests?|bench|models|engine|scripts)\//, path);
  }
  assert.ok(packed.size < LIMIT_BYTES, `packed size ${packed.size} bytes is over 1 MB`);
});

test('installed from the tarball in a fresh project: import "gyre", a kernel, generated text', async (t) => {
  const app = join(folder, 'app');
  await mkdir(join(app, 'models', MODEL), { recursive: true });
  await writeFile(join(app, 'package.json'), '{ "name": "app", "private": true, "type": "module" }\n');
  for (const name of ['config.json', 'model.safetensors']) {
    await copyFile(join(REPO, 'models', MODEL, name), join(app, 'models', MODEL, name));
  }
  await copyFile(join(REPO, 'examples/node/generate.mjs'), join(app, 'generate.mjs'));
  // No NODE_PATH or repository paths: the project sees only what npm installed.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(NODE_PATH|GYRE_)/.test(name)));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(folder, packed.filename)],
    { cwd: app, env });
  const installed = join(app, 'node_modules', 'gyre');
  assert.ok((await stat(join(installed, 'web/lib/wasm/gyre-simd.wasm'))).isFile());

  const resolved = await run(process.execPath, ['--input-type=module', '-e',
    "console.log(import.meta.resolve('gyre'))"], { cwd: app, env });
  const entry = fileURLToPath(resolved.stdout.trim());
  assert.ok(!relative(installed, entry).startsWith('..'), `gyre resolved to ${entry}`);

  const { stdout } = await run(process.execPath, ['--no-experimental-fetch', 'generate.mjs',
    join('models', MODEL), 'It is a truth', '60'], { cwd: app, env, timeout: 120_000 });
  t.diagnostic(stdout.trim().replaceAll('\n', ' | '));
  assert.match(stdout, /^engine: (simd|relaxed|scalar)(-threads)? build/m);
  assert.match(stdout, /^gemm: \[4, 5, 10, 11\]$/m);
  const generated = JSON.parse(stdout.match(/^generated: (.*)$/m)[1]);
  assert.ok(generated.startsWith('It is a truth') && generated.length >= 'It is a truth'.length + 60, generated);
});
