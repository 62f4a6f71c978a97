// Markers shared by worker.js (the engine in a Web Worker) and worker-client.js (its page-side proxy).
// Values that cannot be structured-cloned cross the boundary as small objects keyed by one of these.
export const REMOTE = '__gyreRemote';      // an object that stays in the worker: { [REMOTE]: ref, props }
export const ITERATOR = '__gyreIterator';  // an async iterator that stays in the worker
export const CALLBACK = '__gyreCallback';  // a page function the worker may call
export const SIGNAL = '__gyreSignal';      // a page AbortSignal mirrored in the worker

/**
 * A class's static map of methods that write their result into an array the caller passes
 * (method name → argument index). The worker sends it with each remote object, and the page copies
 * the worker's result into the page's own array (the worker only saw a clone of it).
 */
export const OUTPUT_ARGUMENTS = Symbol.for('gyre.outputArguments');

/** Values structured clone carries as they are (no references inside to rewrite). */
export function isPlainData(value) {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date ||
    value instanceof RegExp || value instanceof Blob;
}
