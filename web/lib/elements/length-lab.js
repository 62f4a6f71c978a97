// <gyre-length-lab>: per-position loss of a Gyre language model over held-out text, with the
// attention it was trained with or overridden at inference (full, post-hoc log-n, sliding window,
// window + log-n); the attention entropy of one layer against position; heat maps of that layer's
// attention. Train short, test long. flash-lm has one attention (mixed-chunk, no window or log-n) and
// no attention matrix: for it the lab hides those controls and shows its loss alone.
//
//   <gyre-length-lab model="/models/gau-lm-softmax-plus/" text-url="/data/heldout.txt" length="4096"></gyre-length-lab>
import { AbortedError, BadArgumentError } from '../errors.js';
import { fetchBytes } from '../fetch-bytes.js';
import { heatmap, legend, lineChart, logBinned } from './plot.js';
import { restartEngine } from './hub.js';
import { GyreElement, define, h, modelFamily, modelName, numberAttribute } from './base.js';

const HEAT_ROWS = 48;
const LENGTHS = [1024, 2048, 4096, 8192];
const MODES = ['full', 'fullLogn', 'window', 'windowLogn'];
// An evaluation that does not honour its AbortSignal within this time is stopped by restarting the
// page's engine (its worker is ended; models reload from the Cache API).
const STOP_GRACE_MS = 250;

const CSS = `
h3 { font-size: 1.02rem; margin: 22px 0 8px; }
.heat { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 20px; margin-top: 16px; }
.heat canvas { width: 100%; max-width: 440px; aspect-ratio: 2.5; display: block; border-radius: 6px; border: 1px solid var(--_line); image-rendering: pixelated; }
`;

/** Mean of bits[n − 1] for contexts n in (from, to]. */
function meanOver(bits, from, to) {
  let sum = 0;
  let count = 0;
  for (let n = Math.max(1, from + 1); n <= Math.min(to, bits.length); n++) { sum += bits[n - 1]; count++; }
  return count ? sum / count : NaN;
}

const texts = new Map();  // URL → promise of the text, fetched once per page
function loadText(url) {
  if (!texts.has(url)) {
    const promise = fetchBytes(url, { what: 'the held-out text' }).then(({ bytes }) => new TextDecoder().decode(bytes));
    promise.catch(() => texts.delete(url));
    texts.set(url, promise);
  }
  return texts.get(url);
}

export class GyreLengthLab extends GyreElement {
  static css = CSS;
  static observedAttributes = ['model', 'models', 'text-url', 'length', 'texts', 'window', 'modes', 'layer'];

  #draws = { loss: () => {}, entropy: () => {}, heat: () => {} };
  #resize = null;
  #windowChosen = false;
  #results = null;

  /** The last run's curves: [{ key, label, bits: Float32Array, entropy: Float32Array, seconds }]. */
  get results() {
    return this.#results;
  }

  build() {
    const mode = (value, label) => h('label', {}, h('input', { type: 'checkbox', name: 'mode', value }), label);
    return [
      this.errorBox(),
      h('div', { class: 'controls', part: 'controls' },
        h('label', { id: 'model-field' }, 'model', h('select', { id: 'model', onchange: () => this.#fitControls() })),
        h('label', {}, 'held-out characters', h('select', { id: 'length' }, ...LENGTHS.map((n) => h('option', { value: n }, String(n))))),
        h('label', {}, 'texts averaged', h('select', { id: 'texts' }, ...[1, 2, 4].map((n) => h('option', { value: n }, String(n))))),
        h('label', { id: 'window-field' }, 'window w', h('input', { type: 'number', id: 'window', min: 8, max: 4096, step: 8,
          oninput: () => { this.#windowChosen = true; } })),
        h('p', { id: 'flash-note', hidden: true },
          'FLASH: mixed-chunk attention as trained (no window or log-n option).'),
        h('fieldset', { id: 'modes' }, h('legend', {}, 'attention at inference'),
          mode('full', 'full'), mode('fullLogn', 'full + log-n'), mode('window', 'window w'), mode('windowLogn', 'window + log-n')),
        h('button', { type: 'button', id: 'run', part: 'button run', onclick: () => this.run() }, 'Run'),
        h('button', { type: 'button', id: 'stop', class: 'secondary', part: 'button stop', disabled: true, onclick: () => this.stop() }, 'Stop')),
      this.progressLine(),
      h('canvas', { id: 'loss', class: 'chart', role: 'img', 'aria-label': 'loss in bits per character against position', part: 'chart' }),
      h('div', { class: 'legend', id: 'legend' }),
      h('p', { class: 'takeaway', id: 'takeaway', role: 'status', 'aria-live': 'polite' }),
      h('div', { class: 'table-scroll' }, h('table', { class: 'data', id: 'table', 'aria-label': 'mean bits per character by context range' })),
      h('h3', {}, 'Attention entropy and one layer\'s attention'),
      h('p', { id: 'flash-attention-note', hidden: true }, 'flash-lm has no attention matrix to show: across chunks ' +
        'its attention is linear (a running sum of keys times values), so there are no per-key weights or entropy.'),
      h('div', { class: 'controls', id: 'layer-field' }, h('label', {}, 'layer', h('select', { id: 'layer' }))),
      h('canvas', { id: 'entropy', class: 'chart short', role: 'img', 'aria-label': 'attention entropy against position', part: 'chart' }),
      h('div', { class: 'legend', id: 'entropy-legend' }),
      h('div', { class: 'heat' },
        h('figure', {}, h('canvas', { id: 'heat-full', role: 'img', 'aria-label': 'attention weights, full attention' }),
          h('figcaption', { id: 'heat-full-caption' }, 'Full attention.')),
        h('figure', {}, h('canvas', { id: 'heat-window', role: 'img', 'aria-label': 'attention weights, sliding window' }),
          h('figcaption', { id: 'heat-window-caption' }, 'Sliding window.'))),
      this.engineLine(),
    ];
  }

  update(name) {
    const all = name === null;
    if (all || name === 'model' || name === 'models') {
      const chosen = this.getAttribute('model') ?? '';
      const urls = [...new Set([...(this.getAttribute('models') ?? '').split(/\s+/), chosen].filter(Boolean))];
      this.$('model').replaceChildren(...urls.map((url) => h('option', { value: url, '.selected': url === chosen }, modelName(url))));
      this.$('model-field').hidden = urls.length < 2;
    }
    if (all || name === 'length') {
      const length = numberAttribute(this, 'length', 4096);
      if (!LENGTHS.includes(length)) this.$('length').append(h('option', { value: length }, String(length)));
      this.$('length').value = String(length);
    }
    if (all || name === 'texts') this.$('texts').value = String(numberAttribute(this, 'texts', 1));
    if (all || name === 'window') {
      this.#windowChosen = this.hasAttribute('window');
      this.$('window').value = String(numberAttribute(this, 'window', 128));
    }
    if (all || name === 'modes') {
      const modes = (this.getAttribute('modes') ?? 'full fullLogn window').split(/[\s,]+/);
      for (const box of this.shadowRoot.querySelectorAll('input[name="mode"]')) box.checked = modes.includes(box.value);
    }
    if (all || name === 'layer') this.#fillLayers(6);
    if (all || name === 'model' || name === 'models') this.#fitControls();
    if (all) {
      lineChart(this.$('loss'), [], { empty: 'Press Run: the model reads held-out text with each attention mode.', theme: this.theme() });
      lineChart(this.$('entropy'), [], { empty: '', theme: this.theme() });
    }
  }

  connectedCallback() {
    super.connectedCallback();
    let width = 0;
    this.#resize ??= new ResizeObserver(() => {
      if (this.clientWidth === width) return;
      width = this.clientWidth;
      this.#draws.loss(); this.#draws.entropy(); this.#draws.heat();
    });
    this.#resize.observe(this);
  }

  disconnectedCallback() {
    this.#resize?.disconnect();
    super.disconnectedCallback();
  }

  /** Hides the window and log-n controls and the attention views for flash-lm; shows them otherwise. */
  async #fitControls(family) {
    const url = this.$('model').value;
    family ??= url ? await modelFamily(url).catch(() => null) : null;
    if (url !== this.$('model').value) return;  // the choice changed meanwhile
    const flash = family === 'flash-lm';
    for (const id of ['window-field', 'modes', 'layer-field', 'entropy', 'entropy-legend']) this.$(id).hidden = flash;
    this.$('flash-note').hidden = !flash;
    this.$('flash-attention-note').hidden = !flash;
    this.shadowRoot.querySelector('.heat').hidden = flash;
  }

  #fillLayers(count) {
    const select = this.$('layer');
    const wanted = numberAttribute(this, 'layer', count) - 1;
    const selected = select.options.length === count ? Number(select.value) : Math.min(Math.max(0, wanted), count - 1);
    select.replaceChildren(...Array.from({ length: count }, (_, i) => h('option', { value: i, '.selected': i === selected }, `layer ${i + 1}`)));
  }

  #modes(w, trainLength, normaliser) {
    const theme = this.theme();
    const all = {
      full: { label: 'full attention', options: { attention: 'full' }, color: theme.series[0] },
      fullLogn: { label: `full + log-n (log_${trainLength})`, options: { attention: 'full', logn: true }, color: theme.series[1], dashed: true },
      window: { label: `sliding window w = ${w}`, options: { attention: 'local', window: w }, color: theme.series[2] },
      windowLogn: { label: `window ${w} + log-n`, options: { attention: 'local', window: w, logn: true }, color: theme.series[3], dashed: true },
    };
    const chosen = [...this.shadowRoot.querySelectorAll('input[name="mode"]:checked')].map((box) => box.value).filter((key) => MODES.includes(key));
    // softmax_plus contains the log-n factor: the extra factor changes nothing there.
    const skipped = normaliser === 'softmax_plus' ? chosen.filter((key) => key.endsWith('Logn')) : [];
    return { list: chosen.filter((key) => !skipped.includes(key)).map((key) => ({ key, ...all[key] })), skipped };
  }

  async perform(signal) {
    const progress = this.progress();
    let stopTimer = null;
    const onAbort = () => { stopTimer = setTimeout(() => restartEngine(), STOP_GRACE_MS); };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.#evaluate(signal, progress);
    } catch (error) {
      if (signal.aborted && error?.code === 'ABORTED') progress.done('Stopped.');
      throw error;
    } finally {
      clearTimeout(stopTimer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  async #evaluate(signal, progress) {
    const textUrl = this.getAttribute('text-url');
    if (!textUrl) throw new BadArgumentError('<gyre-length-lab> needs held-out text: set its text-url attribute to the URL of a plain-text file');
    const url = this.$('model').value;
    const name = modelName(url);
    const length = Number(this.$('length').value);
    const lm = await this.model(url);
    if (this.$('layer').options.length !== lm.info.layers) this.#fillLayers(lm.info.layers);
    const { trainLength: L, normaliser, family } = lm.info;
    const flash = family === 'flash-lm';
    await this.#fitControls(family);
    // The window defaults to the training length (the super-baseline) until the visitor sets one.
    if (!this.#windowChosen) this.$('window').value = String(L);
    const w = Number(this.$('window').value);
    const segments = Number(this.$('texts').value);
    const heldout = await loadText(new URL(textUrl, document.baseURI).href);
    if (heldout.length < segments * (length + 1)) {
      throw new BadArgumentError(`the held-out text holds ${heldout.length} characters, fewer than ` +
        `${segments} × ${length + 1}: choose fewer texts or a shorter length`);
    }
    // Disjoint stretches of held-out text, averaged position by position.
    const stretches = Array.from({ length: segments }, (_, s) => heldout.slice(s * (length + 1), (s + 1) * (length + 1)));
    const { list, skipped } = flash
      ? { list: [{ key: 'flash', label: `FLASH mixed-chunk, c = ${lm.info.chunk}`, options: {}, color: this.theme().series[0] }], skipped: [] }
      : this.#modes(w, L, normaliser);
    if (list.length === 0) throw new BadArgumentError('choose at least one attention mode');
    const layer = Number(this.$('layer').value);

    const steps = list.length * segments * (flash ? 1 : 2) + (flash ? 0 : 2);
    let done = 0;
    progress.set(0, steps);
    const results = [];
    for (const mode of list) {
      const bits = new Float32Array(length);
      const entropy = new Float32Array(length + 1);
      const started = performance.now();
      for (const [index, text] of stretches.entries()) {
        // An engine in the page runs each call to its end: stop between them.
        if (signal.aborted) throw new AbortedError('the lab was stopped');
        const of = segments > 1 ? ` (text ${index + 1} of ${segments})` : '';
        progress.text(`${name}: loss with ${mode.label} over ${length} characters${of}…`);
        const { nll } = await lm.evaluate(text, { ...mode.options, signal });
        for (let i = 0; i < length; i++) bits[i] += nll[i] / Math.LN2 / segments;
        if (flash) {
          progress.set(++done, steps);
          continue;
        }
        progress.set(++done, steps, `${name}: attention entropy of layer ${layer + 1} with ${mode.label}${of}…`);
        const { entropy: perHead, heads } = await lm.attentionEntropy(text, { layer, ...mode.options, signal });
        for (let i = 0; i < entropy.length; i++) {
          for (let k = 0; k < heads; k++) entropy[i] += perHead[i * heads + k] / heads / segments;
        }
        progress.set(++done, steps);
      }
      results.push({ ...mode, bits, entropy, seconds: (performance.now() - started) / 1000 });
      this.#showLoss(results, L, length, name, skipped);
    }
    if (signal.aborted) throw new AbortedError('the lab was stopped');
    if (!flash) await this.#showHeatmaps(lm, stretches[0], L, w, layer, progress, signal);
    progress.done(`Done: ${results.map((r) => `${r.label} ${r.seconds.toFixed(1)} s`).join(', ')} ` +
      `(${segments > 1 ? `${segments} texts of ` : ''}${length} characters).`);
    this.#results = results.map(({ key, label, bits, entropy, seconds }) => ({ key, label, bits, entropy, seconds }));
    return { model: name, at16: { ...this.$('loss').dataset } };
  }

  #showLoss(results, L, length, name, skipped) {
    const lossSeries = results.map((r) => ({ label: r.label, color: r.color, dashed: r.dashed, points: logBinned(r.bits, 4, 8) }));
    const entropySeries = results.map((r) => ({ label: r.label, color: r.color, dashed: r.dashed, points: logBinned(r.entropy, 4, 8) }));
    const marks = [{ x: L, label: `L = ${L}` }, { x: 16 * L, label: '16 L' }];
    const allBits = lossSeries.flatMap((s) => s.points.map((p) => p[1]));
    const yMax = Math.min(8, Math.max(...allBits) + 0.2);
    this.#draws.loss = () => lineChart(this.$('loss'), lossSeries, {
      xLog: 2, xLabel: 'characters of context (log scale)', yLabel: 'loss (bits per character)', marks, theme: this.theme(),
      yRange: [Math.max(0, Math.min(...allBits) - 0.3), yMax], bands: [{ from: 1, to: L, label: 'training length' }],
    });
    this.#draws.entropy = () => lineChart(this.$('entropy'), entropySeries, {
      xLog: 2, xLabel: 'characters of context (log scale)', yLabel: 'entropy (nats)', marks, theme: this.theme(),
    });
    legend(this.$('legend'), lossSeries);
    legend(this.$('entropy-legend'), entropySeries);
    this.#draws.loss();
    this.#draws.entropy();

    const ranges = [[0, L], [L, 4 * L], [4 * L, 16 * L], [16 * L, 32 * L], [32 * L, 64 * L]].filter(([from]) => from < length);
    this.$('table').replaceChildren(
      h('thead', {}, h('tr', {}, h('th', {}, 'bits per character, context n in'),
        ...ranges.map(([a, b]) => h('th', {}, `(${a}, ${Math.min(b, length)}]`)))),
      h('tbody', {}, ...results.map((r) => h('tr', { 'data-mode': r.key }, h('td', {}, r.label),
        ...ranges.map(([a, b]) => h('td', {}, meanOver(r.bits, a, b).toFixed(3)))))));

    // The comparison at 16× the training length: contexts in (12 L, 16 L].
    const at16 = Object.fromEntries(results.map((r) => [r.key, meanOver(r.bits, 12 * L, 16 * L)]));
    const chart = this.$('loss');
    for (const key of Object.keys(chart.dataset)) delete chart.dataset[key];
    for (const r of results) chart.dataset[`at16x${r.key[0].toUpperCase()}${r.key.slice(1)}`] = at16[r.key].toFixed(4);
    chart.dataset.model = name;
    const inside = (key) => meanOver(results.find((r) => r.key === key).bits, 0, L);
    let sentence = '';
    if ('flash' in at16 && Number.isFinite(at16.flash)) {
      sentence = `At 16× the training length (contexts of ${12 * L + 1}–${16 * L} characters) FLASH costs ` +
        `${at16.flash.toFixed(2)} bits/char, against ${inside('flash').toFixed(2)} inside the training length.`;
    } else if ('full' in at16 && 'window' in at16 && Number.isFinite(at16.full) && Number.isFinite(at16.window)) {
      const gap = at16.full - at16.window;
      sentence = gap > 0
        ? `At 16× the training length (contexts of ${12 * L + 1}–${16 * L} characters) full attention costs ` +
          `${at16.full.toFixed(2)} bits/char and the sliding window ${at16.window.toFixed(2)}: the window stays ` +
          `${gap.toFixed(2)} bits/char below, close to its ${inside('window').toFixed(2)} inside the training length.`
        : `At 16× the training length full attention costs ${at16.full.toFixed(2)} bits/char and the sliding ` +
          `window ${at16.window.toFixed(2)}: for this model full attention extrapolates at least as well.`;
      if ('fullLogn' in at16) sentence += ` The post-hoc log-n scale gives ${at16.fullLogn.toFixed(2)}.`;
    } else if (length < 16 * L) {
      sentence = `Choose at least ${16 * L} characters to compare the modes at 16× the training length.`;
    }
    if (skipped.length) sentence += ' (softmax_plus already contains the log-n factor, so the log-n variants are skipped.)';
    this.$('takeaway').textContent = sentence;
  }

  async #showHeatmaps(lm, text, L, w, layer, progress, signal) {
    const chars = [...text];
    const end = Math.min(chars.length, 16 * L);
    const begin = end - HEAT_ROWS;
    const span = Math.min(end, Math.max(3 * L, 2 * w));
    const prefix = chars.slice(0, end).join('');
    const crops = [];
    for (const [key, options] of [['full', { attention: 'full' }], ['window', { attention: 'local', window: w }]]) {
      progress.text(`Attention weights of layer ${layer + 1}, ${key}…`);
      const { weights, keys } = await lm.attentionWeights(prefix, { layer, head: 0, queryBegin: begin, queryEnd: end, ...options, signal });
      const crop = new Float32Array(HEAT_ROWS * span);
      for (let r = 0; r < HEAT_ROWS; r++) {
        for (let c = 0; c < span; c++) {
          const j = keys - span + c;
          crop[r * span + c] = j > begin + r ? NaN : weights[r * keys + j];
        }
      }
      crops.push([key, crop]);
    }
    this.$('heat-full-caption').textContent = `Full attention, layer ${layer + 1}: queries ${begin}–${end - 1} (rows) over the last ${span} keys (columns, right = most recent).`;
    this.$('heat-window-caption').textContent = `Sliding window w = ${w}: the same queries; nothing beyond ${w} keys back.`;
    this.#draws.heat = () => {
      for (const [key, crop] of crops) heatmap(this.$(`heat-${key}`), crop, HEAT_ROWS, span, { zeroFloor: true, gamma: 0.4 });
    };
    this.#draws.heat();
  }
}

define('gyre-length-lab', GyreLengthLab);
