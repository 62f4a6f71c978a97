// The page side of createEngine({ worker: true }): starts worker.js and returns proxies with the same
// API as the in-process engine, except that every method returns a promise (the work happens in the
// worker, so the page never freezes). Data properties (engine.features, a model's info) are
// snapshots taken when the object crossed over. Errors are rebuilt as the same GyreError subclasses.
// See worker.js for the message protocol.
import { AbortedError, BadArgumentError, InternalError, UnsupportedError, errorFromCode } from './errors.js';
import { CALLBACK, ITERATOR, REMOTE, SIGNAL, isPlainData } from './worker-protocol.js';

function rebuildError({ name, code, message, url }) {
  if (code) return errorFromCode(code, message, { url });
  // Not a GyreError: a bug or a broken runtime inside the worker.
  return new InternalError(`the engine worker failed: ${name}: ${message}`, { url });
}

// Where relative locations point: the page, not worker.js.
function absolute(location) {
  if (location === undefined || location === null) return location;
  if (location instanceof URL) return location.href;
  const text = String(location);
  return new URL(text, document.baseURI).href.replaceAll('%7Bflavour%7D', '{flavour}');
}

function absoluteWasmUrl(wasmUrl) {
  if (typeof wasmUrl === 'function') {
    throw new BadArgumentError('with worker: true, wasmUrl cannot be a function (it cannot cross into ' +
      "the worker); pass a string with '{flavour}', a URL or { simd, scalar }");
  }
  if (wasmUrl && typeof wasmUrl === 'object' && !(wasmUrl instanceof URL)) {
    return Object.fromEntries(Object.entries(wasmUrl).map(([flavour, url]) => [flavour, absolute(url)]));
  }
  return absolute(wasmUrl);
}

class Connection {
  #worker;
  #pending = new Map();    // call id → { resolve, reject, callbacks, signals }
  #callbacks = new Map();  // callback ref → function
  #nextId = 1;
  #failure = null;
  #released = typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry((target) => this.#post({ type: 'release', target }))
    : null;

  constructor(worker) {
    this.#worker = worker;
    worker.addEventListener('message', (event) => this.#receive(event.data));
    worker.addEventListener('error', (event) => {
      event.preventDefault?.();
      this.#fail(new InternalError(`the engine worker stopped: ${event.message || 'it could not be ' +
        'started (a module worker needs a modern browser, the page served over http, and a ' +
        "Content-Security-Policy whose worker-src allows it: with Gyre on another origin, blob: and " +
        'that origin)'}`));
    });
    worker.addEventListener('messageerror', () => {
      this.#fail(new InternalError('a message from the engine worker could not be read'));
    });
  }

  #fail(error) {
    this.#failure = error;
    for (const { reject } of this.#pending.values()) reject(error);
    this.#pending.clear();
  }

  #post(message) {
    if (!this.#failure) this.#worker.postMessage(message);
  }

  #receive(message) {
    if (message.type === 'callback') {
      const callback = this.#callbacks.get(message.callback);
      if (callback) {
        try { callback(...message.args.map((arg) => this.decode(arg))); } catch (error) { console.error(error); }
      }
      return;
    }
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    if (message.ok) pending.resolve(message.value);
    else pending.reject(rebuildError(message.error));
  }

  /** Sends a request; resolves to the decoded result. `keep` holds callbacks and signals alive. */
  request(message, keep = null) {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const references = keep ?? { callbacks: [], signals: [] };
    const encoded = { ...message, id };
    if ('args' in message) encoded.args = this.#encode(message.args, references);
    if ('options' in message) encoded.options = this.#encode(message.options, references);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage(encoded);
    }).then((value) => {
      const decoded = this.decode(value, references);
      // References stay alive while an iterator that may still use them is open.
      if (!references.iteratorOpen && !keep) this.#drop(references);
      return decoded;
    }, (error) => {
      if (!keep) this.#drop(references);
      throw error;
    });
  }

  #drop({ callbacks, signals }) {
    for (const ref of callbacks) this.#callbacks.delete(ref);
    for (const { signal, listener, ref } of signals) {
      signal.removeEventListener('abort', listener);
      this.#post({ type: 'release', signal: ref });
    }
  }

  #encode(value, references) {
    if (typeof value === 'function') {
      const ref = this.#nextId++;
      this.#callbacks.set(ref, value);
      references.callbacks.push(ref);
      return { [CALLBACK]: ref };
    }
    if (value === null || typeof value !== 'object' || isPlainData(value)) return value;
    if (typeof AbortSignal === 'function' && value instanceof AbortSignal) {
      const ref = this.#nextId++;
      const listener = () => this.#post({ type: 'abort', signal: ref, reason: String(value.reason ?? '') });
      value.addEventListener('abort', listener, { once: true });
      references.signals.push({ signal: value, listener, ref });
      return { [SIGNAL]: ref, aborted: value.aborted, reason: value.aborted ? String(value.reason ?? '') : undefined };
    }
    if (value[REMOTE] !== undefined) return { [REMOTE]: value[REMOTE] };
    if (Array.isArray(value)) return value.map((item) => this.#encode(item, references));
    if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, this.#encode(v, references)]));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.#encode(v, references)]));
  }

  decode(value, references) {
    if (value === null || typeof value !== 'object' || isPlainData(value)) return value;
    if (Array.isArray(value)) return value.map((item) => this.decode(item, references));
    if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, this.decode(v, references)]));
    if (REMOTE in value) return this.#remote(value[REMOTE], this.decode(value.props, references), value.outputs);
    if (ITERATOR in value) {
      if (references) references.iteratorOpen = true;
      return this.#iterator(value[ITERATOR], references);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.decode(v, references)]));
  }

  // outputs: the object's class's OUTPUT_ARGUMENTS map (method → index of the array it writes into).
  #remote(ref, props, outputs) {
    const connection = this;
    const proxy = new Proxy(props, {
      get(target, name) {
        if (name === REMOTE) return ref;
        if (name in target) return target[name];
        // Not a thenable, not iterable: only string-named methods are forwarded.
        if (typeof name === 'symbol' || name === 'then' || name === 'toJSON') return undefined;
        return (...args) => {
          const call = connection.request({ type: 'call', target: ref, method: name, args });
          // The worker wrote into its clone of the caller's array: copy the result into the original.
          const out = outputs && Object.hasOwn(outputs, name) ? args[outputs[name]] : undefined;
          return out instanceof Float32Array ? call.then((value) => { out.set(value); return out; }) : call;
        };
      },
    });
    this.#released?.register(proxy, ref);
    return proxy;
  }

  #iterator(ref, references) {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      if (references) this.#drop(references);
    };
    const step = async (method, args) => {
      if (finished) return { done: true, value: undefined };
      try {
        const result = await this.request({ type: 'call', target: ref, method, args }, references);
        if (result.done) finish();
        return result;
      } catch (error) {
        finish();
        throw error;
      }
    };
    return {
      next: () => step('next', []),
      return: (value) => step('return', [value]),
      [Symbol.asyncIterator]() { return this; },
    };
  }

  terminate() {
    this.#worker.terminate();
    this.#fail(new AbortedError('the engine worker was terminated'));
  }
}

function startWorker(workerUrl) {
  if (workerUrl !== undefined && workerUrl !== null) {
    return new Worker(absolute(workerUrl), { type: 'module', name: 'gyre-engine' });
  }
  const own = new URL('./worker.js', import.meta.url);
  if (own.origin !== globalThis.location?.origin && /^https?:$/.test(own.protocol)) {
    // A worker must come from the page's origin: when the library is loaded from another origin
    // (a CDN), a same-origin module worker imports it from there (CORS, as for the library).
    const bootstrap = new Blob([`import ${JSON.stringify(own.href)};\n`], { type: 'text/javascript' });
    return new Worker(URL.createObjectURL(bootstrap), { type: 'module', name: 'gyre-engine' });
  }
  // This exact form lets bundlers (Vite, webpack) find and bundle the worker.
  return new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'gyre-engine' });
}

/**
 * Starts the engine in a module Web Worker (worker.js) and resolves to a proxy of the Engine.
 * Options are those of createEngine(); `wasmUrl` must be a string, URL or { simd, scalar };
 * `workerUrl` is where worker.js (or a bundle of it) is served when not next to this module.
 * The proxy adds `terminate()`, which stops the worker at once (even mid-computation).
 */
export async function createWorkerEngine({
  wasmUrl, workerUrl, simd = 'auto', relaxed = 'auto', threads = 'auto', signal, onProgress,
} = {}) {
  if (typeof Worker !== 'function') {
    throw new UnsupportedError('worker: true needs Web Workers; in Node use the in-process engine');
  }
  const options = { wasmUrl: absoluteWasmUrl(wasmUrl), simd, relaxed, threads, signal, onProgress };
  let worker;
  try {
    worker = startWorker(workerUrl);
  } catch (error) {
    throw new UnsupportedError(`the engine worker could not be created: ${error?.message ?? error}`,
      { cause: error });
  }
  const connection = new Connection(worker);
  let engine;
  try {
    engine = await connection.request({ type: 'init', options });
  } catch (error) {
    connection.terminate();
    throw error;
  }
  return new Proxy(engine, {
    get(target, name) {
      if (name === 'terminate') return () => connection.terminate();
      if (name === 'inWorker') return true;
      return target[name];
    },
  });
}
