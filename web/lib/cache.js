// Model downloads kept in the Cache API, so a second visit reads the weights from disk. A cached copy
// is used only while it is current: a HEAD request compares the server's ETag, or Last-Modified and
// Content-Length, with those stored beside the copy (retrained weights replace the old ones). Offline,
// the cached copy is used as it is. Where there is no Cache API (Node, insecure origins) this is
// plain fetchBytes.
import { AbortedError } from './errors.js';
import { fetchBytes, resolveUrl } from './fetch-bytes.js';

export const DEFAULT_CACHE = 'gyre-models-v1';

function validators(headers) {
  return {
    etag: headers.get('etag') ?? '',
    lastModified: headers.get('last-modified') ?? '',
    length: headers.get('content-length') ?? '',
  };
}

function sameVersion(stored, current) {
  if (stored.etag && current.etag) return stored.etag === current.etag;
  return stored.lastModified !== '' && stored.lastModified === current.lastModified && stored.length === current.length;
}

async function readCached(response, url, onProgress) {
  const bytes = new Uint8Array(await response.arrayBuffer());
  onProgress?.({ loaded: bytes.byteLength, total: bytes.byteLength, cached: true });
  return { bytes, contentType: response.headers.get('content-type') ?? '', url, cached: true };
}

/**
 * fetchBytes with the Cache API: `cache` is the cache name (true for DEFAULT_CACHE). Resolves to
 * `{ bytes, contentType, url, cached }`; onProgress receives `cached: true` for a cached copy.
 */
export async function fetchBytesCached(location, { cache = true, what, signal, onProgress } = {}) {
  const url = (await resolveUrl(location)).href;
  const storage = cache && typeof caches === 'object' && /^https?:/.test(url)
    ? await caches.open(cache === true ? DEFAULT_CACHE : String(cache)).catch(() => null)
    : null;
  if (!storage) return { ...(await fetchBytes(url, { what, signal, onProgress })), cached: false };

  const stored = await storage.match(url).catch(() => undefined);
  let head = null;
  try {
    head = await fetch(url, { method: 'HEAD', signal, cache: 'no-store', credentials: 'same-origin' });
  } catch (error) {
    if (error?.name === 'AbortError') throw new AbortedError(`loading ${url} was cancelled`, { cause: error, url });
    if (stored) return readCached(stored, url, onProgress);  // offline: the copy we have
  }
  if (stored && head?.ok && sameVersion(validators(stored.headers), validators(head.headers))) {
    return readCached(stored, url, onProgress);
  }
  const fetched = await fetchBytes(url, { what, signal, onProgress });
  if (head?.ok) {
    const headers = new Headers({ 'content-type': fetched.contentType || 'application/octet-stream' });
    const current = validators(head.headers);
    if (current.etag) headers.set('etag', current.etag);
    if (current.lastModified) headers.set('last-modified', current.lastModified);
    if (current.length) headers.set('content-length', current.length);
    // A full disk or a private window only costs the next visit a download.
    await storage.put(url, new Response(fetched.bytes, { headers })).catch(() => {});
  }
  return { ...fetched, cached: false };
}

/** Deletes the cached downloads (a cache name, or true for DEFAULT_CACHE); resolves to true if any. */
export async function clearModelCache(cache = true) {
  if (typeof caches !== 'object') return false;
  return caches.delete(cache === true ? DEFAULT_CACHE : String(cache));
}
