// <gyre-benchmark>: the engine's kernels timed in the visitor's browser (engine.kernels.benchmark) in
// the page's shared engine (relaxed SIMD or SIMD128, whichever the browser runs; threaded where the
// page is cross-origin isolated: GEMM and attention split their rows over the threads) and
// optionally in a second worker running the scalar build on one thread, with a live table.
//
//   <gyre-benchmark suite="quick" budget="300"></gyre-benchmark>
import { createEngine } from '../index.js';
import { engineConfiguration } from './hub.js';
import { GyreElement, buildName, define, h, numberAttribute, threadsText } from './base.js';

const QUICK = [
  { kernel: 'gemm', m: 128, n: 128, k: 128, size: '128 × 128 × 128' },
  { kernel: 'gemm', m: 256, n: 256, k: 256, size: '256 × 256 × 256' },
  { kernel: 'gemm', m: 512, n: 704, k: 160, size: '512 × 704 × 160 (a GAU-LM projection)' },
  { kernel: 'attention', n: 1024, headDim: 64, mask: 'causal', size: 'causal, n 1024, d 64' },
  { kernel: 'attention', n: 4096, headDim: 64, mask: 'causal-window', window: 128, size: 'window 128, n 4096, d 64' },
  { kernel: 'flash', n: 2048, chunk: 256, qkDim: 64, valueDim: 128, size: 'n 2048, c 256, s 64, e 128' },
  { kernel: 'exp', n: 1 << 20, size: '1M elements' },
  { kernel: 'softmax', rows: 256, cols: 1024, size: '256 rows × 1024' },
];
const FULL = [
  ...QUICK.slice(0, 3),
  { kernel: 'gemm', m: 512, n: 512, k: 512, size: '512 × 512 × 512' },
  { kernel: 'gemm', m: 1, n: 704, k: 160, size: '1 × 704 × 160 (decoding, GEMV)' },
  ...QUICK.slice(3, 4),
  { kernel: 'attention', n: 2048, headDim: 64, mask: 'causal', normaliser: 'softmax_plus', size: 'causal softmax_plus, n 2048, d 64' },
  { kernel: 'attention', n: 4096, headDim: 64, mask: 'causal', size: 'causal, n 4096, d 64' },
  { kernel: 'attention', n: 2048, headDim: 64, mask: 'causal', normaliser: 'relu2', size: 'causal relu², n 2048, d 64' },
  QUICK[4],
  QUICK[5],
  { kernel: 'flash', n: 8192, chunk: 256, qkDim: 64, valueDim: 128, size: 'n 8192, c 256, s 64, e 128' },
  ...QUICK.slice(6),
];

const CSS = `
td { white-space: nowrap; }
.bar { display: flex; align-items: center; gap: 8px; justify-content: flex-end; }
.bar i { display: inline-block; height: 10px; border-radius: 3px; background: var(--_accent); }
.bar.scalar i { background: var(--_muted); opacity: 0.5; }
`;

export class GyreBenchmark extends GyreElement {
  static css = CSS;
  static observedAttributes = ['suite', 'budget', 'scalar'];

  #scalarEngine = null;

  build() {
    const suite = (value, label) => h('label', {}, h('input', { type: 'radio', name: 'suite', value }), label);
    return [
      this.errorBox(),
      h('p', { id: 'threads', part: 'threads' }, 'Threads: …'),
      h('div', { class: 'controls', part: 'controls' },
        h('label', { for: 'budget' }, h('span', {}, 'time per kernel ', h('output', { id: 'budget-value', for: 'budget' }), ' ms'),
          h('input', { type: 'range', id: 'budget', min: 100, max: 2000, step: 100,
            oninput: () => { this.$('budget-value').textContent = this.$('budget').value; } })),
        h('fieldset', {}, h('legend', {}, 'builds'),
          h('label', {}, h('input', { type: 'checkbox', id: 'scalar' }), 'also time the scalar build')),
        h('fieldset', {}, h('legend', {}, 'suite'), suite('quick', 'quick'), suite('full', 'full')),
        h('button', { type: 'button', id: 'run', part: 'button run', onclick: () => this.run() }, 'Run benchmark'),
        h('button', { type: 'button', id: 'stop', class: 'secondary', part: 'button stop', disabled: true, onclick: () => this.stop() }, 'Stop')),
      this.progressLine(),
      h('div', { class: 'table-scroll' },
        h('table', { class: 'data', id: 'table', 'aria-label': 'kernel timings' },
          h('thead', {}, h('tr', {}, h('th', {}, 'kernel'), h('th', {}, 'size'), h('th', {}, 'median'),
            h('th', { id: 'main-build' }, 'SIMD'), h('th', {}, 'scalar'), h('th', {}, 'SIMD speed-up'))),
          h('tbody', {}))),
      h('p', { class: 'takeaway', id: 'summary', role: 'status', 'aria-live': 'polite' }),
      this.engineLine(),
    ];
  }

  update(name) {
    const all = name === null;
    if (all || name === 'budget') {
      this.$('budget').value = String(numberAttribute(this, 'budget', 300));
      this.$('budget-value').textContent = this.$('budget').value;
    }
    if (all || name === 'scalar') this.$('scalar').checked = this.getAttribute('scalar') !== 'off';
    if (all || name === 'suite') {
      const suite = this.getAttribute('suite') === 'full' ? 'full' : 'quick';
      for (const radio of this.shadowRoot.querySelectorAll('input[name="suite"]')) radio.checked = radio.value === suite;
    }
  }

  connectedCallback() {
    super.connectedCallback();
    this.addEventListener('gyre-ready', this.#showBuild);
  }

  disconnectedCallback() {
    this.removeEventListener('gyre-ready', this.#showBuild);
    super.disconnectedCallback();
    this.#scalarEngine?.then((engine) => engine.terminate?.(), () => {});
    this.#scalarEngine = null;
  }

  #showBuild = (event) => {
    if (event.target !== this) return;
    const { flavour, threads } = event.detail.features;
    this.$('main-build').textContent = buildName(flavour);
    this.$('threads').textContent = `Threads: ${threadsText(threads)} (the scalar build: 1)`;
  };

  #rateCell(result, best, scalar) {
    const cell = h('td', { class: 'rate' });
    if (!result) { cell.textContent = '—'; return cell; }
    if (result.missing) { cell.textContent = 'not in this build'; cell.title = result.missing; return cell; }
    const bar = h('i');
    bar.style.width = `${Math.max(2, Math.round(120 * result.rate / best))}px`;
    cell.append(h('span', { class: scalar ? 'bar scalar' : 'bar' }, h('span', {}, `${result.rate.toFixed(2)} ${result.unit}`), bar));
    return cell;
  }

  // One row per result; bars are scaled to the fastest main-build rate of the same unit so far.
  #renderTable(results) {
    const best = (unit) => Math.max(...results.filter((r) => r.simd.unit === unit).map((r) => r.simd.rate));
    this.shadowRoot.querySelector('tbody').replaceChildren(...results.map(({ spec, simd, scalar }) =>
      h('tr', { 'data-kernel': spec.kernel, 'data-rate': simd.rate },
        h('td', {}, spec.kernel), h('td', {}, spec.size),
        h('td', {}, `${simd.medianMs < 1 ? simd.medianMs.toFixed(3) : simd.medianMs.toFixed(1)} ms`),
        this.#rateCell(simd, best(simd.unit), false), this.#rateCell(scalar, best(simd.unit), true),
        h('td', {}, scalar?.rate ? `${(simd.rate / scalar.rate).toFixed(1)}×` : '—'))));
  }

  async perform(signal) {
    const { engine } = await this.engine();
    const suite = this.shadowRoot.querySelector('input[name="suite"]:checked')?.value === 'full' ? FULL : QUICK;
    const minMs = Number(this.$('budget').value);
    const withScalar = this.$('scalar').checked;
    if (withScalar && !this.#scalarEngine) {
      // The scalar build is another wasm module: a second worker of this element's own.
      const { wasmUrl, workerUrl } = engineConfiguration();
      this.#scalarEngine = createEngine({ worker: true, simd: false, wasmUrl, workerUrl });
      this.#scalarEngine.catch(() => { this.#scalarEngine = null; });
    }
    const scalarEngine = withScalar ? await this.#scalarEngine : null;
    this.shadowRoot.querySelector('tbody').replaceChildren();
    this.$('summary').textContent = '';
    const progress = this.progress();
    const results = [];
    for (const [index, spec] of suite.entries()) {
      if (signal.aborted) break;
      const { size, ...params } = spec;
      progress.set(index, suite.length, `${index + 1} of ${suite.length}: ${spec.kernel} ${size}`);
      const simd = await engine.kernels.benchmark({ ...params, minMs });
      let scalar = null;
      if (scalarEngine) {
        // An older scalar build may lack a kernel: show the main figure alone then.
        scalar = await scalarEngine.kernels.benchmark({ ...params, minMs }).catch((error) => {
          if (error.code !== 'UNSUPPORTED') throw error;
          return { missing: error.message };
        });
      }
      results.push({ spec, simd, scalar });
      this.#renderTable(results);
    }
    progress.done(signal.aborted ? `Stopped after ${results.length} kernels.` : `Done: ${results.length} kernels.`);
    const gemm = results.filter((r) => r.spec.kernel === 'gemm').map((r) => r.simd.rate);
    const speedups = results.filter((r) => r.scalar?.rate).map((r) => r.simd.rate / r.scalar.rate);
    this.$('summary').textContent = gemm.length === 0 ? '' :
      `Best GEMM: ${Math.max(...gemm).toFixed(1)} GFLOP/s on ${threadsText(engine.features.threads)}` +
      (speedups.length ? `; the ${buildName(engine.features.flavour)} build is ` +
        `${Math.min(...speedups).toFixed(1)}–${Math.max(...speedups).toFixed(1)}× the scalar build.` : '.');
    return results.map(({ spec, simd, scalar }) => ({
      kernel: spec.kernel, size: spec.size, medianMs: simd.medianMs, rate: simd.rate, unit: simd.unit, scalarRate: scalar?.rate,
    }));
  }
}

define('gyre-benchmark', GyreBenchmark);
