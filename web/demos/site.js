// The shell every page of the demo site shares: navigation, the engine (in a Web Worker), model
// downloads with a progress bar, readable errors, and a few formatting helpers.
//
// Pages mark their progress on <body> for people and tests alike:
//   data-state  loading → ready (engine up) | error;   data-run  running → done | error
import { createEngine, fetchBytes } from '../lib/index.js';
import { configure } from '../lib/elements/hub.js';
import { buildName, describeError, threadsText } from '../lib/elements/base.js';

export { buildName, describeError, threadsText };

/** Every page of the site, in navigation order. */
export const PAGES = [
  { file: 'write.html', title: 'Write', blurb: 'Text generation with the shipped GAU language models, streamed token by token: temperature, top-k, top-p, seed, tokens per second.' },
  { file: 'lab.html', title: 'Length lab', blurb: 'Train short, test long: per-position loss out to 32× the training length with full attention, log-n and sliding windows.' },
  { file: 'rope.html', title: 'RoPE', blurb: 'Rotary position embedding: the score heat map, its long-range decay, and interleaved against half-split pairs.' },
  { file: 'entropy.html', title: 'Entropy', blurb: 'Attention entropy against the number of keys, with and without the log-n scale, for random and trained heads.' },
  { file: 'gau.html', title: 'GAU', blurb: 'Inside a gated attention unit: U, V, Z, A and its output; FLOPs and memory of MHA, GAU and FLASH.' },
  { file: 'diffusion.html', title: 'Diffusion', blurb: 'A DDPM draws digits: watch x_t and the predicted x₀ step by step, ancestral or strided.' },
  { file: 'widen.html', title: 'Widening', blurb: 'Widen a trained model ×2 or ×3 so that it computes the same function, and watch each pitfall break it.' },
  { file: 'bench.html', title: 'Benchmark', blurb: 'The engine\'s kernels timed in your browser: GEMM, attention, FLASH, exp and softmax in GFLOP/s.' },
];

/** Series colours shared by the pages, so one idea keeps one colour everywhere. */
export const COLORS = {
  full: '#d9480f', fullLogn: '#f08c00', window: '#3d5afe', windowLogn: '#0ca678',
  softmax: '#d9480f', softmaxPlus: '#3d5afe', relu2: '#ae3ec9', roformer: '#0ca678', grey: '#868e96',
};

export const MODELS_URL = new URL('../../models/', import.meta.url);

export const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'class') node.className = value;
    // Through the CSSOM: a style attribute is inline style, which the site's CSP blocks.
    else if (key === 'style') node.style.cssText = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}
export { element as h };

/** Builds the header navigation and footer of a page; `current` is its file name. */
export function renderShell(current) {
  const header = document.querySelector('header.site');
  if (header) {
    const brand = element('a', { class: 'brand', href: 'index.html' }, element('span', { 'aria-hidden': 'true' }, '◎'), ' Gyre');
    if (current === 'index.html') brand.setAttribute('aria-current', 'page');
    const links = PAGES.map((page) => {
      const link = element('a', { href: page.file }, page.title);
      if (page.file === current) link.setAttribute('aria-current', 'page');
      return element('li', {}, link);
    });
    const toggle = element('button', { class: 'nav-toggle', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'site-links' }, 'Menu');
    const list = element('ul', { id: 'site-links' }, ...links);
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      list.classList.toggle('open', open);
    });
    header.prepend(element('nav', { 'aria-label': 'Gyre demos' }, brand, toggle, list));
  }
  const footer = document.querySelector('footer.site');
  if (footer && !footer.childElementCount) {
    footer.append(element('p', {}, 'Gyre runs every model and kernel on this site in your browser, in WebAssembly. ',
      'Formulas: ', element('code', {}, 'docs/ALGORITHMS.md'), ' (after Su Jianlin\'s posts on kexue.fm). ',
      element('span', { id: 'engine-badge' })));
  }
}


/** True when the error means the engine build lacks an API (the model runtime not yet built). */
export function isMissingApi(error) {
  return error?.code === 'UNSUPPORTED' && /not available|has no /.test(error.message ?? '');
}

/**
 * Shows an error in `box` (default #error) as a readable message; returns the error. Missing APIs
 * are explained as such, so a page states plainly what it needs instead of showing a stack.
 */
export function showError(error, box = $('error')) {
  console.error(error);
  if (!box) return error;
  box.hidden = false;
  box.replaceChildren();
  if (isMissingApi(error)) {
    box.classList.add('needs');
    box.append(element('strong', {}, 'Not in this build of the engine yet. '),
      'This part of the page needs an engine function that the WebAssembly module or the JS API ' +
      'served here does not have: ', element('code', {}, error.message), '. Rebuild with ',
      element('code', {}, 'npm run build'), '.');
  } else {
    box.classList.remove('needs');
    box.textContent = describeError(error);
  }
  return error;
}

export function clearError(box = $('error')) {
  if (box) { box.hidden = true; box.textContent = ''; }
}


/**
 * createEngine options from the page's query: ?simd=false (the scalar build), ?simd=true,
 * ?relaxed=false (SIMD128 even where relaxed SIMD runs), ?wasm=<url template>.
 */
export function engineOptionsFromQuery(query = new URLSearchParams(location.search)) {
  const flag = (name) => {
    const value = query.get(name);
    return value === 'false' ? false : value === 'true' ? true : 'auto';
  };
  // ?threads=false or a count; default: one per core where the page is cross-origin isolated.
  const threads = query.get('threads');
  return {
    simd: flag('simd'), relaxed: flag('relaxed'), wasmUrl: query.get('wasm') ?? undefined,
    threads: threads === null ? 'auto' : threads === 'false' ? false : Number(threads),
  };
}

/**
 * Starts the engine in a Web Worker (?worker=false: in the page; see engineOptionsFromQuery) and
 * reports it in #engine-status and the footer badge. Sets body[data-state] to ready or error.
 */
export async function startEngine() {
  document.body.dataset.state = 'loading';
  const status = $('engine-status');
  if (status) status.textContent = 'Starting the WebAssembly engine…';
  let worker = params.get('worker') !== 'false';
  const started = performance.now();
  try {
    const options = engineOptionsFromQuery(params);
    let engine;
    try {
      engine = await createEngine({ ...options, worker });
    } catch (error) {
      // A browser without module workers still runs the site, in the page.
      if (!worker || !/worker/i.test(error.message)) throw error;
      console.warn(`Gyre: ${error.message}; running the engine in the page instead`);
      worker = false;
      engine = await createEngine(options);
    }
    const ms = performance.now() - started;
    const { flavour, version, threads } = engine.features;
    const text = `Engine v${version}, ${buildName(flavour)} build on ${threadsText(threads)}, ` +
      `${worker ? 'in a Web Worker' : 'in this page'}; started in ${ms.toFixed(0)} ms.`;
    if (status) status.textContent = text;
    const badge = $('engine-badge');
    if (badge) {
      badge.textContent = `Engine v${version} · ${flavour} · ${threadsText(threads)} · ` +
        `${worker ? 'worker' : 'main thread'}.`;
    }
    document.body.dataset.state = 'ready';
    return engine;
  } catch (error) {
    document.body.dataset.state = 'error';
    document.body.dataset.errorCode = error.code ?? '';
    if (status) status.textContent = 'The engine could not start.';
    throw showError(error);
  }
}

/**
 * For pages whose interactive part is a Gyre element (../lib/elements/): configures the page's shared
 * engine from the query (?worker=false, ?simd=…, ?relaxed=…, ?wasm=…), and mirrors the elements'
 * events onto <body> (data-state, data-run), #engine-status and the footer badge, as startEngine does.
 * ?autorun runs the first element once the engine is up.
 */
export function startElements(...elements) {
  configure({ ...engineOptionsFromQuery(params), worker: params.get('worker') !== 'false' });
  const body = document.body;
  body.dataset.state = 'loading';
  const status = $('engine-status');
  if (status) status.textContent = 'Starting the WebAssembly engine…';
  for (const element of elements) {
    element.addEventListener('gyre-ready', ({ detail: { features, inWorker, ms } }) => {
      const where = inWorker ? 'in a Web Worker' : 'in this page';
      if (status) {
        status.textContent = `Engine v${features.version}, ${buildName(features.flavour)} build on ` +
          `${threadsText(features.threads)}, ${where}; started in ${ms.toFixed(0)} ms.`;
      }
      const badge = $('engine-badge');
      if (badge) {
        badge.textContent = `Engine v${features.version} · ${features.flavour} · ` +
          `${threadsText(features.threads)} · ${inWorker ? 'worker' : 'main thread'}.`;
      }
      body.dataset.state = 'ready';
    });
    element.addEventListener('gyre-start', () => { body.dataset.run = 'running'; });
    element.addEventListener('gyre-done', () => { body.dataset.run = 'done'; });
    element.addEventListener('gyre-error', ({ detail: { error } }) => {
      body.dataset.errorCode = error?.code ?? '';
      if (body.dataset.state === 'loading') {
        body.dataset.state = 'error';
        if (status) status.textContent = 'The engine could not start.';
      } else {
        body.dataset.run = 'error';
      }
    });
  }
  if (params.has('autorun') && elements[0]) elements[0].setAttribute('autorun', '');
}

function formatMB(bytes) {
  return `${(bytes / 1048576).toFixed(bytes < 10485760 ? 2 : 1)} MB`;
}

/**
 * A download's progress shown in `container` (a .progress element holding <progress> and <span>):
 * returns { onProgress, done() }; done() states the size, whether it came from the cache, and the time.
 */
export function downloadProgress(container, name) {
  const bar = container?.querySelector('progress');
  const label = container?.querySelector('span');
  if (container) container.hidden = false;
  if (label) label.textContent = `Loading ${name}…`;
  const started = performance.now();
  let last = { loaded: 0, total: 0, cached: false };
  return {
    onProgress(progress) {
      last = progress;
      if (bar) {
        if (progress.total > 0) { bar.max = progress.total; bar.value = progress.loaded; } else bar.removeAttribute('value');
      }
      if (label) {
        label.textContent = `${progress.cached ? 'Reading' : 'Downloading'} ${name}: ${formatMB(progress.loaded)}` +
          (progress.total ? ` of ${formatMB(progress.total)}` : '') + (progress.cached ? ' (from the cache)' : '');
      }
    },
    done(detail = '') {
      if (bar) { bar.max = 1; bar.value = 1; }
      if (!label) return;
      const ms = performance.now() - started;
      // Content-Length when the server sent one, else the bytes fetched.
      const bytes = last.total || last.loaded;
      label.textContent = `${name} ready: ${bytes ? formatMB(bytes) : 'loaded'}` +
        `${last.cached ? ' from the cache' : ''}, ${ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`}${detail}.`;
    },
  };
}

/**
 * Loads models/<name>/ through the engine with a progress bar in `container`. Downloads are kept in
 * the Cache API, so the next visit reads them from disk. Resolves to the model.
 */
export async function loadModel(engine, name, container, { signal } = {}) {
  const progress = downloadProgress(container, name);
  const model = await engine.loadModel(new URL(`${name}/`, MODELS_URL).href,
    { onProgress: progress.onProgress, signal, cache: true });
  progress.done();
  return model;
}

/**
 * One model at a time for a page: get(name) returns the loaded model, loading it (with the progress
 * bar in `container`) and freeing the previous one in the engine when the name changes.
 */
export function modelSlot(engine, container) {
  let current = null;  // { name, model }
  return {
    async get(name) {
      if (current?.name === name) return current.model;
      const previous = current;
      current = null;
      if (previous) await Promise.resolve(previous.model.dispose?.()).catch(() => {});
      const model = await loadModel(engine, name, container);
      current = { name, model };
      return model;
    },
  };
}

/** Runs a page's main action: marks body[data-run], disables `button`, shows errors. */
export async function runAction(button, action) {
  document.body.dataset.run = 'running';
  clearError();
  if (button) button.disabled = true;
  try {
    const result = await action();
    document.body.dataset.run = 'done';
    return result;
  } catch (error) {
    document.body.dataset.run = 'error';
    document.body.dataset.errorCode = error.code ?? '';
    showError(error);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** The same vector at every position 0 … count − 1, one row each. */
export function repeatRows(vector, count) {
  const rows = new Float32Array(vector.length * count);
  for (let r = 0; r < count; r++) rows.set(vector, r * vector.length);
  return rows;
}

export function dot(a, aOffset, b, bOffset, length) {
  let sum = 0;
  for (let i = 0; i < length; i++) sum += a[aOffset + i] * b[bOffset + i];
  return sum;
}

/** A deterministic pseudo-random generator (mulberry32) and standard normal draws from it. */
export function randomGenerator(seed) {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = Math.max(uniform(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
  return { uniform, normal };
}

export function formatNumber(value, digits = 3) {
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e6)) return value.toExponential(digits - 1);
  return value.toPrecision(digits);
}

/** Redraws on resize (plots size themselves to their CSS width). */
export function onResize(draw) {
  let width = window.innerWidth;
  let timer;
  window.addEventListener('resize', () => {
    if (window.innerWidth === width) return;
    width = window.innerWidth;
    clearTimeout(timer);
    timer = setTimeout(draw, 120);
  });
}

export { logBinned } from '../lib/elements/plot.js';

// Held-out text the models never saw in training (the last 5 % of each novel; see data/README.md).
const HELDOUT_URL = new URL('./data/heldout-austen.txt', import.meta.url);
let heldout = null;

/** The held-out text, fetched once. */
export async function loadHeldoutText() {
  heldout ??= fetchBytes(HELDOUT_URL, { what: 'the held-out text' })
    .then(({ bytes }) => new TextDecoder().decode(bytes));
  try {
    return await heldout;
  } catch (error) {
    heldout = null;
    throw error;
  }
}
