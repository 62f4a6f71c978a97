// One engine per page, shared by every Gyre element on it, and the models it has loaded.
//
// Elements acquire the engine when they enter the DOM and release it when they leave; when the last
// one leaves, the models are freed and the engine's worker is terminated. Models are shared too: two
// elements naming the same model URL get one copy, freed when neither uses it any more.
//
//   import { configure } from 'gyre/elements';
//   configure({ relaxed: false, wasmUrl: '/assets/gyre-{flavour}.wasm' });   // createEngine options
import { createEngine } from '../index.js';

const TEARDOWN_DELAY_MS = 0;  // a task: an element moved in the DOM (removed, re-added) keeps the engine

let engineOptions = { worker: true };
let current = null;  // { promise, engine, users: Set, models: Map<url, entry>, startedMs, inWorker }
let teardownTimer = null;
const restartListeners = new Set();

/**
 * Sets the options of the page's engine (those of createEngine: simd, relaxed, wasmUrl, worker);
 * call it in the module that imports the elements (or earlier): the engine starts in a microtask
 * after the first element connects. worker defaults to true (the engine in a Web Worker).
 */
export function configure(options = {}) {
  engineOptions = { worker: true, ...options };
}

/** The options the next engine starts with. */
export function engineConfiguration() {
  return { ...engineOptions };
}

async function startEngine(options) {
  const { worker, ...rest } = options;
  const started = performance.now();
  if (!worker) return { engine: await createEngine(rest), inWorker: false, ms: performance.now() - started };
  try {
    return { engine: await createEngine({ ...rest, worker: true }), inWorker: true, ms: performance.now() - started };
  } catch (error) {
    // A browser without module workers still runs the elements, in the page.
    if (!/worker/i.test(error?.message ?? '')) throw error;
    console.warn(`Gyre: ${error.message}; running the engine in the page instead`);
    return { engine: await createEngine(rest), inWorker: false, ms: performance.now() - started };
  }
}

function open() {
  const state = { users: new Set(), models: new Map(), engine: null, inWorker: false, ms: 0 };
  // Started in a microtask, so that configure() in the module that imports the elements (which
  // upgrades and connects them as it loads) still applies.
  state.promise = Promise.resolve().then(() => startEngine(engineOptions)).then(({ engine, inWorker, ms }) => {
    state.engine = engine;
    state.inWorker = inWorker;
    state.ms = ms;
    if (current !== state) close(state);  // everyone left while it started
    return state;
  });
  // A failed start is not cached: the next acquire tries again.
  state.promise.catch(() => { if (current === state) current = null; });
  return state;
}

function dispose(entry) {
  entry.promise.then((model) => model.dispose?.()).catch(() => {});
}

function close(state) {
  const worker = typeof state.engine?.terminate === 'function';
  // Ending the worker frees everything in it at once; an engine in the page frees model by model.
  if (!worker) for (const entry of state.models.values()) dispose(entry);
  state.models.clear();
  if (worker) state.engine.terminate();
}

/**
 * The page's engine for `user` (any object, usually an element): resolves to
 * { engine, inWorker, ms, features }. Starts it on first use.
 */
export async function acquireEngine(user) {
  clearTimeout(teardownTimer);
  teardownTimer = null;
  current ??= open();
  current.users.add(user);
  const state = await current.promise;
  return { engine: state.engine, inWorker: state.inWorker, ms: state.ms, features: state.engine.features };
}

/** `user` is done with the engine; the last user's release frees the models and ends the worker. */
export function releaseEngine(user) {
  if (!current) return;
  current.users.delete(user);
  for (const url of [...current.models.keys()]) releaseModel(user, url);
  if (current.users.size > 0 || teardownTimer) return;
  teardownTimer = setTimeout(() => {
    teardownTimer = null;
    if (!current || current.users.size > 0) return;
    const state = current;
    current = null;
    if (state.engine) close(state);
    // Still starting: open()'s continuation closes it when it sees it is no longer current.
  }, TEARDOWN_DELAY_MS);
}

/**
 * Ends the page's engine at once (even mid-computation) and starts a fresh one for the same users:
 * calls in flight reject with AbortedError, and models are loaded again on next use. Listeners
 * added with onRestart() hear of it.
 */
export async function restartEngine() {
  // An engine in the page cannot be interrupted: its calls have already returned.
  if (!current || (current.engine && typeof current.engine.terminate !== 'function')) return;
  const previous = current;
  current = open();
  for (const user of previous.users) current.users.add(user);
  if (previous.engine) close(previous);
  else previous.promise.then(close, () => {});
  for (const listener of restartListeners) listener();
  await current.promise;
}

/** Calls `listener` after restartEngine(); returns a function that removes it. */
export function onRestart(listener) {
  restartListeners.add(listener);
  return () => restartListeners.delete(listener);
}

/**
 * The model at `url` (a directory holding config.json and model.safetensors) for `user`, loaded once
 * per engine and shared. `onProgress({ loaded, total, cached })` hears the download, also when another
 * element started it. Downloads are kept in the browser's Cache API.
 */
export async function acquireModel(user, url, { onProgress } = {}) {
  const { engine } = await acquireEngine(user);
  const state = current;
  let entry = state.models.get(url);
  if (!entry) {
    entry = { users: new Set(), listeners: new Set(), last: null };
    entry.promise = engine.loadModel(url, {
      cache: true,
      onProgress: (progress) => {
        entry.last = progress;
        for (const listener of entry.listeners) listener(progress);
      },
    });
    state.models.set(url, entry);
    // A failed load is forgotten, so that the next attempt fetches again.
    entry.promise.catch(() => { if (state.models.get(url) === entry) state.models.delete(url); });
  }
  entry.users.add(user);
  if (onProgress) {
    entry.listeners.add(onProgress);
    if (entry.last) onProgress(entry.last);
  }
  try {
    const model = await entry.promise;
    return { model, progress: entry.last };
  } finally {
    if (onProgress) entry.listeners.delete(onProgress);
  }
}

/** `user` no longer needs the model at `url`; the last user's release frees it. */
export function releaseModel(user, url) {
  const entry = current?.models.get(url);
  if (!entry || !entry.users.delete(user) || entry.users.size > 0) return;
  current.models.delete(url);
  dispose(entry);
}

/** What the shared engine holds now, for tests and diagnostics. */
export function hubStatus() {
  return {
    running: Boolean(current?.engine),
    users: current?.users.size ?? 0,
    models: current ? [...current.models.keys()] : [],
    inWorker: current?.inWorker ?? false,
  };
}
