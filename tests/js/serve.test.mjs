// The dev server (scripts/serve.mjs) shows only the site's own trees, with the security headers the
// README documents: raw HTTP requests (fetch() would normalise '..' and %2e%2e before sending).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CONTENT_SECURITY_POLICY, startServer } from '../../scripts/serve.mjs';

/** GET (or another method) of a raw request path; resolves to { status, headers, body }. */
function get(serverUrl, path, method = 'GET') {
  const { hostname, port } = new URL(serverUrl);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({
        status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks).toString(),
      }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dev server on the repository', () => {
  let server;
  before(async () => { server = await startServer({ port: 0, host: '127.0.0.1' }); });
  after(() => server.close());

  test('serves the site, the library and the models', async () => {
    assert.equal((await get(server.url, '/web/demos/')).status, 200);
    assert.equal((await get(server.url, '/web/lib/index.js')).status, 200);
    assert.equal((await get(server.url, '/models/gau-lm-softmax-plus/config.json')).status, 200);
    const root = await get(server.url, '/');
    assert.equal(root.status, 302);
    assert.equal(root.headers.location, '/web/demos/');
  });

  test('no dotfiles, .git, sources, build trees, training code or directory listings', async () => {
    for (const path of ['/.git/config', '/.git/HEAD', '/.gitignore', '/.ci/run', '/web/demos/.x',
      '/package.json', '/README.md', '/scripts/serve.mjs', '/engine/core/status.h', '/tests/js/serve.test.mjs',
      '/build/wasm-simd/gyre-simd.js', '/dist/site/index.html', '/node_modules/playwright-core/package.json',
      '/models/train/models.py', '/models/', '/web/', '/web/lib/wasm/',
      '/examples/bundler/node_modules/gyre/package.json']) {
      const { status } = await get(server.url, path);
      assert.equal(status, 404, path);
    }
  });

  test('encoded and plain traversals are refused', async () => {
    for (const path of ['/web/demos/../../package.json', '/web/demos/%2e%2e/%2e%2e/package.json',
      '/web/demos/%2E%2E/%2E%2E/.git/config', '/web/lib/..%2f..%2fpackage.json',
      '/web/lib/%2e%2e%2f%2e%2e%2fpackage.json', '/web/lib%2f..%2f..%2fpackage.json',
      '/web/lib/%5c..%5c..%5cpackage.json', '/web/demos/%00index.html', '/web/demos/index.html%00',
      '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/web/demos/%ff%fe', '//etc/passwd']) {
      const { status, body } = await get(server.url, path);
      assert.equal(status, 404, path);
      assert.doesNotMatch(body, /"devDependencies"|root:x:0/, path);
    }
  });

  test('security headers: CSP, nosniff, isolation; CORS for the library and models only', async () => {
    const page = await get(server.url, '/web/demos/index.html');
    assert.equal(page.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.match(CONTENT_SECURITY_POLICY, /script-src 'self' 'wasm-unsafe-eval'/);
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /'unsafe-eval'|'unsafe-inline'/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(page.headers['cross-origin-embedder-policy'], 'require-corp');
    assert.equal(page.headers['cross-origin-resource-policy'], 'same-origin');
    assert.equal(page.headers['access-control-allow-origin'], undefined);
    for (const path of ['/web/lib/index.js', '/models/gau-lm-softmax-plus/config.json']) {
      const shared = await get(server.url, path);
      assert.equal(shared.headers['access-control-allow-origin'], '*', path);
      assert.equal(shared.headers['cross-origin-resource-policy'], 'cross-origin', path);
      assert.equal(shared.headers['x-content-type-options'], 'nosniff', path);
    }
    const missing = await get(server.url, '/.git/config');
    assert.equal(missing.headers['x-content-type-options'], 'nosniff');
    assert.equal((await get(server.url, '/web/demos/index.html', 'POST')).status, 405);
  });
});

describe('dev server on another folder', () => {
  let folder;
  let outside;
  let server;
  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'gyre-serve-'));
    outside = await mkdtemp(join(tmpdir(), 'gyre-outside-'));
    await writeFile(join(outside, 'secret.txt'), 'secret\n');
    await mkdir(join(folder, 'site', 'web', 'lib'), { recursive: true });
    await writeFile(join(folder, 'site', 'index.html'), '<!doctype html><title>x</title>\n');
    await writeFile(join(folder, 'site', 'web', 'lib', 'a.js'), 'export const a = 1;\n');
    await writeFile(join(folder, 'site', '.env'), 'TOKEN=1\n');
    await symlink(join(outside, 'secret.txt'), join(folder, 'site', 'link-out.txt'));
    await symlink(outside, join(folder, 'site', 'dir-out'));
    await symlink(join(folder, 'site', 'web', 'lib', 'a.js'), join(folder, 'site', 'link-in.js'));
    server = await startServer({ root: join(folder, 'site'), port: 0, host: '127.0.0.1', base: '/gyre/', isolation: false });
  });
  after(async () => {
    await server?.close();
    await rm(folder, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  test('mounted under a subpath, without COOP/COEP', async () => {
    assert.match(server.url, /\/gyre$/);
    const index = await get(server.url, '/gyre/');
    assert.equal(index.status, 200);
    assert.equal(index.headers['cross-origin-opener-policy'], undefined);
    assert.equal(index.headers['cross-origin-embedder-policy'], undefined);
    assert.equal(index.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.equal((await get(server.url, '/gyre/web/lib/a.js')).headers['access-control-allow-origin'], '*');
    assert.equal((await get(server.url, '/web/lib/a.js')).status, 404);
    assert.equal((await get(server.url, '/gyre/web/lib')).status, 301);
    assert.equal((await get(server.url, '/gyre/web/lib/')).status, 404, 'no directory listing');
  });

  test('symlinks out of the folder and dotfiles are not served; a link inside it is', async () => {
    for (const path of ['/gyre/link-out.txt', '/gyre/dir-out/secret.txt', '/gyre/.env', '/gyre/%2e%2e/']) {
      const { status, body } = await get(server.url, path);
      assert.equal(status, 404, path);
      assert.doesNotMatch(body, /^secret$|TOKEN=1/m, path);
    }
    assert.equal((await get(server.url, '/gyre/link-in.js')).status, 200);
  });
});
