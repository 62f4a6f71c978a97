// Loads bytes from a URL or (in Node) a file path, with progress, cancellation and typed errors
// that name the URL. Shared by the wasm loader and the model loaders.
import { AbortedError, NetworkError, NotFoundError } from './errors.js';

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string' &&
  typeof window === 'undefined';

// Node's built-ins, imported only in Node and by a computed name, so that browser bundlers
// (esbuild, Vite, webpack) neither try to resolve nor polyfill them.
export const nodeBuiltin = (name) => import(/* @vite-ignore */ /* webpackIgnore: true */ `node:${name}`);

/**
 * Resolves a string or URL to an absolute URL: relative strings against the page (browser) or the
 * working directory (Node); in Node a plain path becomes a file: URL.
 */
export async function resolveUrl(location) {
  if (location instanceof URL) return location;
  const text = String(location);
  if (/^[a-z][a-z0-9+.-]*:/i.test(text) && !/^[a-z]:[\\/]/i.test(text)) return new URL(text);
  if (isNode) {
    const { pathToFileURL } = await nodeBuiltin('url');
    return pathToFileURL(text);
  }
  return new URL(text, globalThis.document?.baseURI ?? globalThis.location?.href);
}

function abortedError(url, cause) {
  return new AbortedError(`loading ${url} was cancelled`, { cause, url });
}

async function readFileUrl(url, what, signal, onProgress) {
  const { readFile } = await nodeBuiltin('fs/promises');
  const { fileURLToPath } = await nodeBuiltin('url');
  const path = fileURLToPath(url);
  try {
    const buffer = await readFile(path, { signal });
    onProgress?.({ loaded: buffer.byteLength, total: buffer.byteLength });
    return { bytes: new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength), contentType: '' };
  } catch (error) {
    if (error?.name === 'AbortError') throw abortedError(path, error);
    if (error?.code === 'ENOENT' || error?.code === 'ENOTDIR') {
      throw new NotFoundError(`${what} not found: no file at ${path}`, { cause: error, url: path });
    }
    throw new NotFoundError(`${what} could not be read from ${path}: ${error?.message}`,
      { cause: error, url: path });
  }
}

async function fetchUrl(url, what, signal, onProgress) {
  let response;
  try {
    response = await fetch(url, { signal, credentials: 'same-origin' });
  } catch (error) {
    if (error?.name === 'AbortError') throw abortedError(url, error);
    throw new NetworkError(`${what} could not be fetched from ${url}: ${error?.message ?? error}`,
      { cause: error, url });
  }
  if (response.status === 404 || response.status === 410) {
    throw new NotFoundError(`${what} not found: ${url} returned HTTP ${response.status}. ` +
      'Check the path, or pass its location explicitly.', { url });
  }
  if (!response.ok) {
    throw new NetworkError(`${what} could not be fetched: ${url} returned HTTP ${response.status}`,
      { url });
  }
  const contentType = response.headers.get('content-type') ?? '';
  const total = Number(response.headers.get('content-length')) || 0;
  try {
    if (!onProgress || !response.body) {
      const bytes = new Uint8Array(await response.arrayBuffer());
      onProgress?.({ loaded: bytes.byteLength, total: bytes.byteLength });
      return { bytes, contentType };
    }
    const chunks = [];
    let loaded = 0;
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.byteLength;
      onProgress({ loaded, total: Math.max(total, loaded) });
    }
    const bytes = new Uint8Array(loaded);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return { bytes, contentType };
  } catch (error) {
    if (error?.name === 'AbortError') throw abortedError(url, error);
    throw new NetworkError(`${what}: the download from ${url} failed: ${error?.message ?? error}`,
      { cause: error, url });
  }
}

/**
 * Fetches `location` (string, URL) and returns `{ bytes, contentType, url }`.
 * `what` names the resource in error messages; `onProgress({ loaded, total })` reports download
 * progress; `signal` cancels with AbortedError. 404 gives NotFoundError naming the URL.
 */
export async function fetchBytes(location, { what = 'the file', signal, onProgress } = {}) {
  const url = await resolveUrl(location);
  if (signal?.aborted) throw abortedError(url.href, signal.reason);
  const result = url.protocol === 'file:' && isNode
    ? await readFileUrl(url, what, signal, onProgress)
    : await fetchUrl(url.href, what, signal, onProgress);
  return { ...result, url: url.protocol === 'file:' && isNode ? decodeURIComponent(url.pathname) : url.href };
}

/**
 * True when the bytes look like an HTML page (a server's index.html or error page served in place
 * of a binary): optional BOM and whitespace, then '<' (e.g. "<!DOCTYPE", "<html", "<!--").
 */
export function looksLikeHtml(bytes, contentType = '') {
  if (/^text\/html\b/i.test(contentType)) return true;
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  while (i < bytes.length && i < 1024 && (bytes[i] === 0x20 || bytes[i] === 0x09 ||
    bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return bytes[i] === 0x3c;  // '<'
}

/** "3c 21 44 4f" for messages. */
export function firstBytesHex(bytes, count = 4) {
  return Array.from(bytes.subarray(0, count), (b) => b.toString(16).padStart(2, '0')).join(' ');
}
