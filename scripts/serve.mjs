#!/usr/bin/env node
// The development server: serves the demo site (web/demos/), the library (web/lib/), the shipped
// models and the examples from the repository, or any built folder (--root dist/site), with:
//   - only those trees: no dotfiles or dot-directories (.git), no build trees, no sources, no
//     directory listings, and no symlink that leads out of them (each path is resolved first);
//   - a strict Content-Security-Policy the site runs under (no 'unsafe-eval', no inline scripts),
//     X-Content-Type-Options: nosniff, and application/wasm for streaming compilation;
//   - COOP/COEP (cross-origin isolation, which wasm threads need) unless --no-isolation, which
//     behaves like a host that sends none (GitHub Pages);
//   - CORS and Cross-Origin-Resource-Policy: cross-origin for the library and the models only, so
//     a page on another origin can load the engine and its models by URL; everything else is
//     same-origin;
//   - --base /prefix/ mounts the folder under a subpath, as a project page of a static host.
//   node scripts/serve.mjs [--port 8080] [--host localhost] [--root dir] [--base /gyre/] [--no-isolation]
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

/** The policy every page of the site (and its engine worker) runs under: no eval, no inline code. */
export const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";

const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** Trees another origin may load: the library (JS, wasm) and the models (weights, configs). */
export const SHARED_TREES = ['/web/lib/', '/models/'];
const SHARED_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const DEMO_PATH = '/web/demos/';
// What the dev server shows of the repository: the site's own trees. Anything else (sources,
// build trees, tests, scripts, node_modules, training code and data) is 404.
export const REPO_TREES = ['/web/demos/', '/web/lib/', '/models/', '/examples/'];
const REPO_EXCLUDED = ['/models/train/', '/models/checkpoints/', '/models/data/'];

function baseHeaders(pathname, isolation) {
  const shared = SHARED_TREES.some((tree) => pathname.startsWith(tree));
  return {
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    ...(isolation ? ISOLATION_HEADERS : {}),
    ...(shared ? SHARED_HEADERS : { 'Cross-Origin-Resource-Policy': 'same-origin' }),
  };
}

function send(response, status, body, headers = {}) {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  response.end(body);
}

/**
 * The served path for a request path, relative to the served folder, or null when it is not one
 * the server shows: each segment is decoded on its own, and a segment that decodes to nothing,
 * '.', '..', starts with '.', or holds a slash, backslash or NUL is refused (so %2e%2e, %2f and
 * dotfiles never reach the file system).
 */
export function servedPath(pathname, trees) {
  const segments = pathname.split('/').slice(1);
  const decoded = [];
  for (const [index, raw] of segments.entries()) {
    let segment;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (segment === '' && index === segments.length - 1) break;  // a trailing slash
    if (segment === '' || segment.startsWith('.') || /[/\\\0]/.test(segment)) return null;
    decoded.push(segment);
  }
  const path = `/${decoded.join('/')}${pathname.endsWith('/') && decoded.length ? '/' : ''}`;
  if (trees) {
    const asDir = path.endsWith('/') ? path : `${path}/`;
    if (!trees.allowed.some((tree) => asDir.startsWith(tree))) return null;
    if (trees.excluded.some((tree) => asDir.startsWith(tree))) return null;
    if (decoded.includes('node_modules')) return null;  // e.g. an example's own installation
  }
  return path;
}

async function handle(site, request, response) {
  const { root, realRoot, base, isolation, trees } = site;
  // The raw path, not new URL(...).pathname, which would resolve '..' and %2e%2e before we look.
  const url = { pathname: request.url.split(/[?#]/)[0], search: request.url.match(/\?[^#]*/)?.[0] ?? '' };
  const inside = url.pathname.startsWith(base) ? url.pathname.slice(base.length - 1) : null;
  const headers = baseHeaders(inside ?? url.pathname, isolation);
  if (request.method === 'OPTIONS' && inside && SHARED_TREES.some((tree) => inside.startsWith(tree))) {
    send(response, 204, '', { ...headers, 'Access-Control-Allow-Methods': 'GET, HEAD',
      'Access-Control-Allow-Headers': '*', 'Access-Control-Max-Age': '600' });
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, 405, 'method not allowed\n', { ...headers, Allow: 'GET, HEAD' });
    return;
  }
  if (inside === '/' && trees) {
    send(response, 302, `see ${base}${DEMO_PATH.slice(1)}\n`, { ...headers, Location: `${base}${DEMO_PATH.slice(1)}` });
    return;
  }
  const path = inside === null ? null : servedPath(inside, inside === '/' ? null : trees);
  if (path === null) {
    send(response, 404, `not found: ${url.pathname}\n`, headers);
    return;
  }
  let file = join(root, ...path.split('/').filter(Boolean));
  // Resolve symlinks: a link inside the folder that leads out of it is not served.
  let real = await realpath(file).catch(() => null);
  if (real !== null && real !== realRoot && !real.startsWith(realRoot + sep)) real = null;
  let info = real && await stat(real).catch(() => null);
  if (info?.isDirectory()) {
    if (!path.endsWith('/')) {
      send(response, 301, 'moved\n', { ...headers, Location: `${url.pathname}/${url.search}` });
      return;
    }
    file = join(real, 'index.html');
    real = await realpath(file).catch(() => null);
    if (real !== null && !real.startsWith(realRoot + sep)) real = null;
    info = real && await stat(real).catch(() => null);
  }
  if (!info?.isFile()) {
    send(response, 404, `not found: ${url.pathname}\n`, headers);
    return;
  }
  response.writeHead(200, {
    ...headers,
    'Content-Type': MIME_TYPES[extname(real).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': info.size,
    'Cache-Control': 'no-cache',
    'Last-Modified': info.mtime.toUTCString(),
  });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  createReadStream(real).on('error', () => response.destroy()).pipe(response);
}

/**
 * Starts the server; resolves to { url, close() } where url ends without a slash and includes the
 * base. Port 0 picks a free port. `root`: the served folder (the repository shows only
 * REPO_TREES of it; any other folder, such as dist/site, all of its non-dot files). `base`: the
 * subpath the folder is mounted at. `isolation`: send COOP/COEP.
 */
export async function startServer({
  root = REPO_ROOT, port = 8080, host = 'localhost', base = '/', isolation = true,
} = {}) {
  const absoluteRoot = resolve(root);
  const mount = `/${base.split('/').filter(Boolean).join('/')}/`.replace('//', '/');
  const site = {
    root: absoluteRoot,
    realRoot: await realpath(absoluteRoot),
    base: mount,
    isolation,
    trees: absoluteRoot === REPO_ROOT ? { allowed: REPO_TREES, excluded: REPO_EXCLUDED } : null,
  };
  const server = createServer((request, response) => {
    handle(site, request, response).catch((error) => {
      if (!response.headersSent) send(response, 500, `server error: ${error.message}\n`);
      else response.destroy();
    });
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      const shownHost = host === '127.0.0.1' || host === '::1' ? host : 'localhost';
      resolvePromise({
        url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${address.port}${mount.slice(0, -1)}`,
        server,
        close: () => new Promise((done) => { server.closeAllConnections?.(); server.close(() => done()); }),
      });
    });
  });
}

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : fallback;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(option('port', process.env.PORT ?? 8080));
  const host = option('host', process.env.HOST ?? 'localhost');
  const root = resolve(option('root', REPO_ROOT));  // e.g. dist/site, the output of npm run build:site
  const base = option('base', '/');
  const isolation = !process.argv.includes('--no-isolation');
  try {
    const { url } = await startServer({ root, port, host, base, isolation });
    console.log(`Gyre demo site: ${url}${DEMO_PATH}`);
    console.log(`(serving ${root === REPO_ROOT ? "the repository's site trees" : root} ` +
      `${isolation ? 'with' : 'without'} COOP/COEP headers; Ctrl+C to stop)`);
  } catch (error) {
    if (error.code === 'EADDRINUSE') {
      console.error(`serve: port ${port} on ${host} is already in use; run with PORT=<another port>`);
    } else {
      console.error(`serve: ${error.message}`);
    }
    process.exit(1);
  }
}
