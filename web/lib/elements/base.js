// What every Gyre element shares: an open shadow root with adopted stylesheets, the page's shared
// engine (hub.js) acquired on connect and released on disconnect, models by URL with a download
// progress bar, a run/stop life cycle with an AbortSignal, and errors shown inside the element.
//
// State, for styling and scripts, on the host's `state` attribute:
//   starting (engine loading) → ready → running → done | error      (error also when the engine fails)
// Events (bubbling, composed): gyre-ready { features, inWorker }, gyre-progress { loaded, total, cached,
// model }, gyre-start, gyre-done { result, stopped }, gyre-error { error }.
import { BadArgumentError } from '../errors.js';
import { fetchBytes } from '../fetch-bytes.js';
import { acquireEngine, acquireModel, onRestart, releaseEngine, releaseModel } from './hub.js';
import { adopt, baseStylesheet, stylesheet, theme } from './styles.js';

/** document.createElement with attributes, properties (on*, and keys starting with '.') and children. */
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key.startsWith('.')) node[key.slice(1)] = value;
    else if (key === 'class') node.className = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

const BUILD_NAMES = { relaxed: 'relaxed SIMD', simd: 'SIMD128', scalar: 'scalar' };
/** A flavour's display name, with ', threaded' for the threaded builds. */
export function buildName(flavour) {
  const base = flavour.replace(/-threads$/, '');
  return (BUILD_NAMES[base] ?? base) + (base === flavour ? '' : ', threaded');
}

/** '1 thread', '4 threads'. */
export function threadsText(threads) {
  return `${threads} thread${threads === 1 ? '' : 's'}`;
}

/** Bytes as MB with two decimals below 10 MB. */
export function formatMB(bytes) {
  return `${(bytes / 1048576).toFixed(bytes < 10485760 ? 2 : 1)} MB`;
}

function formatMs(ms) {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The last path segment of a model directory URL: its name. */
export function modelName(url) {
  try {
    return new URL(url, document.baseURI).pathname.split('/').filter(Boolean).at(-1) ?? String(url);
  } catch {
    return String(url);
  }
}

/** Absolute URL of a model directory named by an attribute (relative to the page), with a final '/'. */
export function modelUrl(value) {
  const url = new URL(value, document.baseURI).href;
  return url.endsWith('/') ? url : `${url}/`;
}

const families = new Map();  // model directory URL → promise of the family its config.json names

/**
 * The family a model directory's config.json names ('gau-lm', 'flash-lm', …), read once per page
 * (a few kB), so an element can fit its controls to a model before downloading its weights.
 */
export function modelFamily(url) {
  const absolute = modelUrl(url);
  if (!families.has(absolute)) {
    const promise = fetchBytes(new URL('config.json', absolute).href, { what: 'config.json' })
      .then(({ bytes }) => JSON.parse(new TextDecoder().decode(bytes)).family);
    promise.catch(() => families.delete(absolute));
    families.set(absolute, promise);
  }
  return families.get(absolute);
}

/** A readable one-line description of an error, GyreError or not. */
export function describeError(error) {
  if (!error) return 'unknown error';
  const code = error.code ? ` [${error.code}]` : '';
  return `${error.name ?? 'Error'}${code}: ${error.message ?? String(error)}`;
}

/** Reads a number attribute; `fallback` when it is missing or not a number. */
export function numberAttribute(element, name, fallback) {
  const value = element.getAttribute(name);
  if (value === null || value.trim() === '') return fallback;
  const number = Number(value);
  return Number.isFinite(number) ? number : fallback;
}

export class GyreElement extends HTMLElement {
  /** Extra stylesheet text of the subclass. */
  static css = '';

  #built = false;
  #controller = null;
  #running = null;
  #models = new Map();  // role → absolute URL of the model this element holds
  #downloads = new Map();  // role → "name size" of that model's weights
  #unsubscribe = null;
  #autoran = false;

  constructor() {
    super();
    const sheets = [baseStylesheet()];
    const own = this.constructor.css;
    if (own) {
      this.constructor.sheet ??= stylesheet(own);
      sheets.push(this.constructor.sheet);
    }
    this.attachShadow({ mode: 'open' });
    adopt(this.shadowRoot, sheets);
  }

  /** The element's own node of id `id` in its shadow root. */
  $(id) {
    return this.shadowRoot.getElementById(id);
  }

  /** Subclasses: returns the nodes of the element's UI (called once, on first connect). */
  build() {
    return [];
  }

  /** Subclasses: the work of one run; `signal` aborts when the user stops or the element leaves. */
  async perform() {}

  /** Subclasses: an observed attribute `name` changed (null: all of them, once the UI is built). */
  update() {}

  /** The common parts: an error box, a progress line and the engine line; place them in build(). */
  errorBox() {
    return h('p', { id: 'error', class: 'error', role: 'alert', part: 'error', hidden: true });
  }

  progressLine() {
    return h('div', { id: 'progress', class: 'progress', part: 'progress', hidden: true },
      h('progress', { 'aria-labelledby': 'progress-label' }),
      h('span', { id: 'progress-label', role: 'status', 'aria-live': 'polite' }),
      // The download size of each model held, kept while the label above moves on to other work.
      h('span', { id: 'download-size', class: 'download-size', part: 'download-size', hidden: true }));
  }

  engineLine() {
    return h('p', { id: 'engine', class: 'engine', part: 'engine', 'aria-live': 'polite' }, 'Starting the engine…');
  }

  connectedCallback() {
    if (!this.#built) {
      this.shadowRoot.append(...this.build());
      this.#built = true;
      this.update(null);
    }
    this.#unsubscribe ??= onRestart(() => this.#models.clear());
    this.addEventListener('keydown', this.#escape);
    if (!this.#running) this.#setState('starting');
    acquireEngine(this).then(({ features, inWorker, ms }) => {
      if (!this.isConnected) return;
      this.features = features;
      const line = this.$('engine');
      if (line) {
        const threads = Number(features.threads) > 1 ? `, ${features.threads} threads` : '';
        line.textContent = `Gyre ${features.version}, ${buildName(features.flavour)} build${threads}, ` +
          `${inWorker ? 'in a Web Worker' : 'in this page'}; engine started in ${formatMs(ms)}.`;
      }
      if (!this.#running) this.#setState('ready');
      this.#emit('gyre-ready', { features, inWorker, ms });
      if (this.hasAttribute('autorun') && !this.#autoran) {
        this.#autoran = true;
        this.run();
      }
    }, (error) => {
      if (!this.isConnected) return;
      const line = this.$('engine');
      if (line) line.textContent = 'The engine could not start.';
      this.showError(error);
      this.#setState('error');
      this.#emit('gyre-error', { error });
    });
  }

  disconnectedCallback() {
    this.removeEventListener('keydown', this.#escape);
    this.#controller?.abort();
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#models.clear();
    releaseEngine(this);
  }

  attributeChangedCallback(name, previous, value) {
    if (this.#built && previous !== value) this.update(name);
  }

  /** True while a run is in progress. */
  get running() {
    return this.#running !== null;
  }

  /**
   * Runs the element's action (the same as its main button). Resolves to the result, or undefined
   * when it failed: the error is shown in the element and sent as a gyre-error event, never thrown.
   */
  run() {
    if (this.#running) return this.#running;
    this.#running = this.#run().finally(() => { this.#running = null; });
    return this.#running;
  }

  /** Stops the run in progress (the same as the Stop button). */
  stop() {
    this.#controller?.abort();
  }

  async #run() {
    const controller = new AbortController();
    this.#controller = controller;
    this.clearError();
    this.#setState('running');
    this.setRunning(true);
    this.#emit('gyre-start', {});
    try {
      const result = await this.perform(controller.signal);
      if (!this.isConnected) return undefined;
      this.#setState('done');
      this.#emit('gyre-done', { result, stopped: controller.signal.aborted });
      return result;
    } catch (error) {
      if (!this.isConnected) return undefined;
      if (controller.signal.aborted && error?.code === 'ABORTED') {
        this.#setState('done');
        this.#emit('gyre-done', { result: undefined, stopped: true });
        return undefined;
      }
      this.showError(error);
      this.#setState('error');
      this.#emit('gyre-error', { error });
      return undefined;
    } finally {
      if (this.#controller === controller) this.#controller = null;
      this.setRunning(false);
    }
  }

  /**
   * Enables Stop and disables Run while running (and the reverse after); keyboard focus follows,
   * so that a keyboard user who started a run can stop it where they are. Subclasses may extend it.
   */
  setRunning(running) {
    const run = this.$('run');
    const stop = this.$('stop');
    const focused = this.shadowRoot.activeElement;
    if (run) run.disabled = running;
    if (stop) stop.disabled = !running;
    if (running && focused === run) stop?.focus();
    if (!running && focused === stop) run?.focus();
  }

  // Escape anywhere in the element stops its run.
  #escape = (event) => {
    if (event.key === 'Escape' && this.running) this.stop();
  };

  /** The page's shared engine: resolves to { engine, inWorker, ms, features }. */
  engine() {
    return acquireEngine(this);
  }

  /**
   * The model at `url` for this element under `role` (an element may hold a few), shown in the
   * progress line while it downloads; a model it held before under the same role is released.
   */
  async model(url, role = 'model') {
    if (!url) throw new BadArgumentError(`<${this.localName}> needs a model: set its model attribute to the URL of a model directory (holding config.json and model.safetensors)`);
    const absolute = modelUrl(url);
    const previous = this.#models.get(role);
    if (previous === absolute) return (await acquireModel(this, absolute)).model;  // held: no download
    if (previous) releaseModel(this, previous);
    const name = modelName(absolute);
    const progress = this.progress(`Loading ${name}…`);
    const started = performance.now();
    let last = null;
    const { model } = await acquireModel(this, absolute, {
      onProgress: (p) => {
        last = p;
        progress.set(p.loaded, p.total, `${p.cached ? 'Reading' : 'Downloading'} ${name}: ${formatMB(p.loaded)}` +
          (p.total ? ` of ${formatMB(p.total)}` : '') + (p.cached ? ' (from the cache)' : ''));
        this.#emit('gyre-progress', { ...p, model: absolute });
      },
    });
    this.#models.set(role, absolute);
    // Content-Length when the server sent one, else the bytes fetched.
    const bytes = last ? last.total || last.loaded : 0;
    const size = bytes ? formatMB(bytes) : 'loaded';
    progress.done(`${name} ready: ${size}${last?.cached ? ' from the cache' : ''}, ${formatMs(performance.now() - started)}.`);
    this.#showDownload(role, bytes ? `${name} ${size}` : null);
    return model;
  }

  #showDownload(role, text) {
    if (text) this.#downloads.set(role, text); else this.#downloads.delete(role);
    const line = this.$('download-size');
    if (!line) return;
    line.textContent = this.#downloads.size ? `Download: ${[...this.#downloads.values()].join(', ')}` : '';
    line.hidden = this.#downloads.size === 0;
  }

  /** Shows the progress line: returns { set(value, max, text), text(text), done(text) }. */
  progress(text) {
    const box = this.$('progress');
    const bar = box?.querySelector('progress');
    const label = box?.querySelector('span');
    if (box) box.hidden = false;
    if (label && text) label.textContent = text;
    if (bar) bar.removeAttribute('value');
    return {
      set(value, max, message) {
        if (bar) {
          if (max > 0) { bar.max = max; bar.value = value; } else bar.removeAttribute('value');
        }
        if (label && message !== undefined) label.textContent = message;
      },
      text(message) { if (label) label.textContent = message; },
      done(message) {
        if (bar) { bar.max = 1; bar.value = 1; }
        if (label && message !== undefined) label.textContent = message;
      },
    };
  }

  showError(error) {
    const box = this.$('error');
    if (!box) return;
    box.textContent = describeError(error);
    box.hidden = false;
    box.dataset.code = error?.code ?? '';
  }

  clearError() {
    const box = this.$('error');
    if (box) { box.hidden = true; box.textContent = ''; delete box.dataset.code; }
  }

  /** The theme for canvas drawing (the element's --gyre-* custom properties). */
  theme() {
    return theme(this);
  }

  #setState(state) {
    this.setAttribute('state', state);
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

/** Defines `name` once (a page that loads the module twice, or another copy, keeps the first). */
export function define(name, constructor) {
  if (!customElements.get(name)) customElements.define(name, constructor);
}
