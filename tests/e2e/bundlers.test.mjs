// examples/bundler built as a site author would: Gyre installed from its `npm pack` tarball into a
// fresh project outside the repository, the app bundled by esbuild and by Vite, each build served
// as static files (under the site's strict CSP, without COOP/COEP) and run in Chromium: the engine
// starts in a worker, runs a kernel and generates text from a model by URL.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openBrowser } from './browser.mjs';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = join(REPO, 'examples/bundler');
const MODEL = 'gau-lm-softmax-plus';

let folder;
let app;

before(async () => {
  folder = await mkdtemp(join(tmpdir(), 'gyre-bundlers-'));
  app = join(folder, 'app');
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', folder], { cwd: REPO });
  const [{ filename }] = JSON.parse(stdout);
  for (const name of ['index.html', 'src', 'build-esbuild.mjs', 'vite.config.js']) {
    await cp(join(EXAMPLE, name), join(app, name), { recursive: true });
  }
  await writeFile(join(app, 'package.json'), '{ "name": "app", "private": true, "type": "module" }\n');
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(NODE_PATH|GYRE_)/.test(name)));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(folder, filename)], { cwd: app, env });
  // The bundlers themselves come from the repository's devDependencies (no network here).
  for (const tool of ['esbuild', 'vite']) await symlink(join(REPO, 'node_modules', tool), join(app, 'node_modules', tool));
});
after(async () => { if (folder) await rm(folder, { recursive: true, force: true }); });

/** Copies the model into the built site, serves it, opens the app; returns what it shows. */
async function runBuilt(dist) {
  await cp(join(REPO, 'models', MODEL), join(dist, 'models', MODEL), {
    recursive: true, filter: (source) => !/\.(png|md)$/.test(source),
  });
  await writeFile(join(dist, 'favicon.ico'), '');  // the browser asks for it; a 404 would be a console error
  const browser = await openBrowser({ root: dist, isolation: false });
  try {
    const tab = await browser.newPage();
    await tab.goto(`${browser.url}/index.html`);
    await tab.waitForSelector('body[data-state]', { timeout: 120_000 });
    const shown = {
      state: await tab.getAttribute('body', 'data-state'),
      engine: await tab.textContent('#engine'),
      gemm: await tab.textContent('#gemm'),
      text: await tab.textContent('#text'),
      problems: tab.problems,
    };
    await tab.close();
    return shown;
  } finally {
    await browser.close();
  }
}

function checkShown(t, shown) {
  t.diagnostic(`${shown.engine}; ${JSON.stringify(shown.text)}`);
  assert.equal(shown.state, 'done', shown.text);
  assert.match(shown.engine, /^(relaxed|simd|scalar) build/);
  assert.equal(shown.gemm, '[4, 5, 10, 11]');
  assert.ok(shown.text.startsWith('It is a truth') && shown.text.length >= 'It is a truth'.length + 40, shown.text);
  assert.deepEqual(shown.problems, []);
}

describe('examples/bundler, Gyre installed from the tarball', () => {
  test('esbuild: bundled, the wasm and worker passed by URL, runs in Chromium', async (t) => {
    await run(process.execPath, [join(app, 'build-esbuild.mjs')], { cwd: app });
    checkShown(t, await runBuilt(join(app, 'dist-esbuild')));
  });

  test('Vite: bundled, the wasm and worker found through import.meta.url, runs in Chromium', async (t) => {
    await run(process.execPath, [join(app, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: app });
    checkShown(t, await runBuilt(join(app, 'dist-vite')));
  });
});
