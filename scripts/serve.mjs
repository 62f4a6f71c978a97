#!/usr/bin/env node
// The development server: serves the repository (the demo site lives in web/demos/) with the
// headers Gyre needs: COOP/COEP (cross-origin isolation, which wasm threads require), the
// application/wasm type (for streaming compilation), and no caching of stale builds.
//   node scripts/serve.mjs [--port 8080] [--host localhost] [--root dir]   (or PORT=..., HOST=...)
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
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

const SECURITY_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
};

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const DEMO_PATH = '/web/demos/';

function send(response, status, body, headers = {}) {
  response.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  response.end(body);
}

async function handle(root, request, response) {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  const url = new URL(request.url, 'http://localhost');
  if (url.pathname === '/') {
    send(response, 302, `see ${DEMO_PATH}\n`, { Location: DEMO_PATH });
    return;
  }
  let path;
  try {
    path = normalize(join(root, decodeURIComponent(url.pathname)));
  } catch {
    send(response, 400, 'bad path\n');
    return;
  }
  if (path !== root && !path.startsWith(root + sep)) {
    send(response, 403, 'outside the served folder\n');
    return;
  }
  let info = await stat(path).catch(() => null);
  if (info?.isDirectory()) {
    if (!url.pathname.endsWith('/')) {
      send(response, 301, 'moved\n', { Location: `${url.pathname}/${url.search}` });
      return;
    }
    path = join(path, 'index.html');
    info = await stat(path).catch(() => null);
  }
  if (!info?.isFile()) {
    send(response, 404, `not found: ${url.pathname}\n`);
    return;
  }
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    'Content-Type': MIME_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': info.size,
    'Cache-Control': 'no-cache',
    'Last-Modified': info.mtime.toUTCString(),
  });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  createReadStream(path).on('error', () => response.destroy()).pipe(response);
}

/** Starts the server; resolves to { url, close() }. Port 0 picks a free port. */
export function startServer({ root = REPO_ROOT, port = 8080, host = 'localhost' } = {}) {
  const absoluteRoot = resolve(root);
  const server = createServer((request, response) => {
    handle(absoluteRoot, request, response).catch((error) => {
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
        url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${address.port}`,
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
  try {
    const { url } = await startServer({ root, port, host });
    console.log(`Gyre demo site: ${url}${DEMO_PATH}`);
    console.log('(serving the repository with COOP/COEP headers; Ctrl+C to stop)');
  } catch (error) {
    if (error.code === 'EADDRINUSE') {
      console.error(`serve: port ${port} on ${host} is already in use; run with PORT=<another port>`);
    } else {
      console.error(`serve: ${error.message}`);
    }
    process.exit(1);
  }
}
