// <gyre-diffusion>: DDPM sampling of images in the page's shared engine (ddpm.sample with onStep),
// x_t and the predicted x̂0 animated step by step and replayable; optionally (the `schedule`
// attribute) the noise schedule ᾱ_t with the steps the chosen sampler visits.
//
//   <gyre-diffusion model="/models/ddpm-digits/" count="16" steps="50" seed="7" label="each"></gyre-diffusion>
// label (class-conditional models): "any" (each image's class drawn from the seed), "each" (image i
// draws class i mod classes) or a class;
// guidance: the classifier-free guidance weight w (1: none).
import { legend, imageGrid, lineChart } from './plot.js';
import { GyreElement, define, h, numberAttribute } from './base.js';

const MAX_FRAMES = 120;
const STEP_CHOICES = [10, 20, 50, 100, 250];
const DIGITS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];  // the class choices of ddpm-digits

const CSS = `
.frames { display: flex; flex-wrap: wrap; gap: 20px; }
.frames figure { flex: 1 1 240px; max-width: 360px; }
.frames canvas { width: 100%; display: block; border-radius: 6px; border: 1px solid var(--_line); image-rendering: pixelated; background: #000; }
.replay { margin-top: 12px; }
.replay label { flex: 1 1 300px; }
.replay input { width: 100%; }
.schedule { margin-top: 18px; }
`;

// ᾱ_t = Π α_s with α_s = √(1 − 0.02 s/T) (docs/ALGORITHMS.md §6.1), t = 0 … T: the schedule of Gyre's DDPM family.
function alphaBar(T) {
  const values = [1];
  for (let t = 1; t <= T; t++) values.push(values[t - 1] * Math.sqrt(1 - (0.02 * t) / T));
  return values;
}

/** The steps t a sampler visits, first to last (ddim.py: ᾱ[::stride] from t = 1). */
export function visitedSteps({ method, steps }, T = 1000) {
  if (method === 'ancestral') return Array.from({ length: T }, (_, i) => T - i);
  const stride = Math.max(1, Math.round(T / steps));
  const visited = [];
  for (let t = 1; t <= T; t += stride) visited.push(t);
  return visited.reverse();
}

export class GyreDiffusion extends GyreElement {
  static css = CSS;
  static observedAttributes = ['model', 'count', 'method', 'steps', 'eta', 'sigma', 'seed', 'label', 'guidance', 'schedule'];

  #frames = [];
  #shape = null;
  #T = 1000;
  #images = null;

  /** The images of the last run: Float32Array [count × C × H × W] in [−1, 1], or null. */
  get images() {
    return this.#images;
  }

  build() {
    const method = (value, label) => h('label', {}, h('input', { type: 'radio', name: 'method', value,
      onchange: () => this.#methodChanged() }), label);
    return [
      this.errorBox(),
      h('div', { class: 'controls', part: 'controls' },
        h('label', {}, 'images', h('input', { type: 'number', id: 'count', min: 1, max: 64, step: 1 })),
        h('fieldset', {}, h('legend', {}, 'sampler'), method('ddim', 'strided (DDIM)'), method('ancestral', 'ancestral, every step')),
        h('label', {}, 'steps (stride)', h('select', { id: 'steps', onchange: () => this.#drawSchedule() },
          ...STEP_CHOICES.map((steps) => h('option', { value: steps }, `${steps} (stride ${Math.round(1000 / steps)})`)))),
        h('label', {}, 'η (DDIM noise)', h('input', { type: 'number', id: 'eta', min: 0, max: 1, step: 0.1 })),
        h('label', {}, 'σₜ (ancestral)', h('select', { id: 'sigma' },
          h('option', { value: 'beta' }, 'σₜ = βₜ'), h('option', { value: 'alt' }, 'σₜ = β̄ₜ₋₁ βₜ / β̄ₜ'))),
        h('label', {}, 'seed', h('input', { type: 'number', id: 'seed', min: 0, step: 1 })),
        h('label', {}, 'class', h('select', { id: 'label', title: 'class-conditional models: which class (digit) to draw' },
          h('option', { value: 'any' }, 'any'), h('option', { value: 'each' }, 'each in turn'),
          ...DIGITS.map((digit) => h('option', { value: digit }, String(digit))))),
        h('label', {}, 'guidance w', h('input', { type: 'number', id: 'guidance', min: 0, max: 10, step: 0.5,
          title: 'classifier-free guidance: ε̂ = ε̂_any + w (ε̂_class − ε̂_any); w ≠ 1 costs a second network call per step' })),
        h('button', { type: 'button', id: 'run', part: 'button run', onclick: () => this.run() }, 'Sample'),
        h('button', { type: 'button', id: 'stop', class: 'secondary', part: 'button stop', disabled: true,
          onclick: () => this.stop() }, 'Stop')),
      this.progressLine(),
      h('dl', { class: 'stats', part: 'stats' },
        h('div', {}, h('dt', {}, 'step'), h('dd', { id: 'step', 'aria-live': 'off' }, '–')),
        h('div', {}, h('dt', {}, 't'), h('dd', { id: 't' }, '–')),
        h('div', {}, h('dt', {}, 'total time'), h('dd', { id: 'time' }, '–')),
        h('div', {}, h('dt', {}, 'per step'), h('dd', { id: 'per-step' }, '–'))),
      h('p', { id: 'announce', class: 'engine', role: 'status', 'aria-live': 'polite' }),
      h('div', { class: 'frames' },
        h('figure', {}, h('canvas', { id: 'x', role: 'img', 'aria-label': 'the noisy images x_t', part: 'canvas' }),
          h('figcaption', {}, 'xₜ: what the sampler holds.')),
        h('figure', {}, h('canvas', { id: 'x0', role: 'img', 'aria-label': 'the predicted clean images x̂₀', part: 'canvas' }),
          h('figcaption', {}, 'x̂₀ = (xₜ − β̄ₜ ε̂)/ᾱₜ: the network\'s guess of the end.'))),
      h('div', { class: 'controls replay' },
        h('label', {}, 'replay the steps', h('input', { type: 'range', id: 'replay', min: 0, max: 0, value: 0, disabled: true,
          oninput: () => this.#showFrame(Number(this.$('replay').value)) }))),
      h('figure', { id: 'schedule-figure', class: 'schedule' },
        h('canvas', { id: 'schedule', class: 'chart short', role: 'img', 'aria-label': 'the noise schedule and the visited steps' }),
        h('div', { class: 'legend', id: 'schedule-legend' }),
        h('figcaption', {}, 'ᾱₜ, how much of x₀ survives in xₜ, with the steps the chosen sampler visits.')),
      this.engineLine(),
    ];
  }

  update(name) {
    const all = name === null;
    const set = (attribute, id, fallback) => {
      if (all || name === attribute) this.$(id).value = String(numberAttribute(this, attribute, fallback));
    };
    set('count', 'count', 16);
    set('eta', 'eta', 0);
    set('seed', 'seed', 7);
    set('guidance', 'guidance', 1);
    if (all || name === 'steps') {
      const steps = numberAttribute(this, 'steps', 50);
      const select = this.$('steps');
      if (![...select.options].some((option) => Number(option.value) === steps)) select.append(h('option', { value: steps }, String(steps)));
      select.value = String(steps);
    }
    if (all || name === 'label') {
      const label = this.getAttribute('label') ?? 'any';
      this.$('label').value = [...this.$('label').options].some((option) => option.value === label) ? label : 'any';
    }
    if (all || name === 'sigma') this.$('sigma').value = this.getAttribute('sigma') === 'alt' ? 'alt' : 'beta';
    if (all || name === 'method') {
      const method = this.getAttribute('method') === 'ancestral' ? 'ancestral' : 'ddim';
      for (const radio of this.shadowRoot.querySelectorAll('input[name="method"]')) radio.checked = radio.value === method;
    }
    this.$('schedule-figure').hidden = !this.hasAttribute('schedule');
    this.#methodChanged();
  }

  connectedCallback() {
    super.connectedCallback();
    let width = 0;
    this.#resize ??= new ResizeObserver(() => {
      if (this.clientWidth === width) return;  // drawing the frames changes the height only
      width = this.clientWidth;
      this.#drawSchedule();
      this.#showFrame(Number(this.$('replay').value));
    });
    this.#resize.observe(this);
  }

  disconnectedCallback() {
    this.#resize?.disconnect();
    super.disconnectedCallback();
  }

  #resize = null;

  /** The sampler settings of the controls. */
  get settings() {
    const method = this.shadowRoot.querySelector('input[name="method"]:checked')?.value ?? 'ddim';
    return {
      method,
      count: Number(this.$('count').value),
      steps: Number(this.$('steps').value),
      eta: Number(this.$('eta').value),
      sigma: this.$('sigma').value,
      seed: Number(this.$('seed').value),
      label: this.$('label').value,
      guidance: Number(this.$('guidance').value),
    };
  }

  #methodChanged() {
    const ancestral = this.settings.method === 'ancestral';
    this.$('steps').disabled = ancestral;
    this.$('eta').disabled = ancestral;
    this.$('sigma').disabled = !ancestral;
    this.#drawSchedule();
  }

  #drawSchedule() {
    if (this.$('schedule-figure').hidden) return;
    const T = this.#T;
    const values = alphaBar(T);
    const visited = visitedSteps(this.settings, T);
    const theme = this.theme();
    const stride = visited.length > 1 ? visited[0] - visited[1] : T;
    const series = [
      { label: 'ᾱ_t', color: theme.accent, points: values.map((value, t) => [t, value]) },
      { label: `steps visited: ${visited.length}${visited.length < T ? `, stride ${stride}` : ''}`, color: theme.series[0],
        points: visited.length <= 250 ? visited.map((t) => [t, values[t]]) : [], dots: true, width: 0 },
    ];
    lineChart(this.$('schedule'), series, { xLabel: 't', yLabel: 'ᾱ_t', yRange: [0, 1], theme });
    legend(this.$('schedule-legend'), series);
  }

  #showFrame(index) {
    const frame = this.#frames[index];
    if (!frame || !this.#shape) return;
    const columns = Math.min(8, Math.ceil(Math.sqrt(this.#shape.count)));
    const grid = { count: this.#shape.count, size: this.#shape.imageSize, channels: this.#shape.channels, columns };
    imageGrid(this.$('x'), frame.x, grid);
    imageGrid(this.$('x0'), frame.x0, grid);
    this.$('step').textContent = `${frame.step} / ${frame.totalSteps}`;
    this.$('t').textContent = String(frame.k + 1);
  }

  async perform(signal) {
    const model = await this.model(this.getAttribute('model'));
    this.#T = model.info.steps;
    const options = this.settings;
    const { method, count, steps, eta, sigma, seed } = options;
    const { classes } = model.info;
    this.$('label').disabled = this.$('guidance').disabled = !(classes > 0);  // unconditional: any class
    let label = 'random';  // "any": each image's digit drawn from the seed
    if (classes > 0 && options.label === 'each') label = Array.from({ length: count }, (_, i) => i % classes);
    else if (classes > 0 && options.label !== 'any') label = Number(options.label);
    const guided = classes > 0 && options.guidance !== 1;
    this.#shape = { count, imageSize: model.info.imageSize, channels: model.info.channels };
    this.#frames = [];
    const replay = this.$('replay');
    replay.disabled = true;
    this.$('announce').textContent = `Sampling ${count} images…`;
    const totalCalls = visitedSteps(options, this.#T).length;
    const keepEvery = Math.max(1, Math.ceil(totalCalls / MAX_FRAMES));
    const started = performance.now();
    let lastPaint = 0;
    let result = null;
    try {
      result = await model.sample({
        count, seed, signal, label, guidance: guided ? options.guidance : 1,
        ...(method === 'ancestral' ? { method: 'ancestral', sigma } : { method: 'ddim', steps, eta }),
        onStep: (frame) => {
          if (frame.step % keepEvery === 0 || frame.step === frame.totalSteps || frame.step === 1) this.#frames.push(frame);
          const now = performance.now();
          if (now - lastPaint > 40 || frame.step === frame.totalSteps) {
            this.#showFrame(this.#frames.length - 1);
            lastPaint = now;
          }
          this.$('time').textContent = `${((now - started) / 1000).toFixed(2)} s`;
        },
      });
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const done = this.#frames.at(-1)?.step ?? 0;
      this.$('time').textContent = `${seconds.toFixed(2)} s`;
      const calls = guided ? ' (2 network calls)' : '';
      this.$('per-step').textContent = done ? `${((seconds * 1000) / done).toFixed(1)} ms for ${count} images${calls}` : '–';
      replay.max = String(Math.max(0, this.#frames.length - 1));
      replay.value = replay.max;
      replay.disabled = this.#frames.length < 2;
      this.#showFrame(this.#frames.length - 1);
      this.$('announce').textContent = result ? `Done: ${count} images in ${done} steps, ${seconds.toFixed(2)} s.`
        : `Stopped after ${done} steps.`;
    }
    this.#images = result.images;
    return { ...result, steps: this.#frames.at(-1)?.step ?? 0 };
  }
}

define('gyre-diffusion', GyreDiffusion);
