// Length extrapolation lab: per-position loss of a shipped language model over held-out text, with
// the attention it was trained with or overridden at inference (full, log-n, sliding window), the
// attention entropy of one layer against position, and heat maps of that layer's attention.
import { BadArgumentError } from '../lib/index.js';
import { heatmap, legend, lineChart } from './plot.js';
import {
  $, COLORS, loadHeldoutText, logBinned, modelSlot, onResize, renderShell, runAction, startEngine,
} from './site.js';

const HEAT_ROWS = 48;
const draws = { loss: () => {}, entropy: () => {}, heat: () => {} };
let engine = null;
let models = null;  // modelSlot, once the engine is up
let stopRequested = false;

function modes(w, trainLength, normaliser) {
  const all = {
    full: { label: 'full attention', options: { attention: 'full' }, color: COLORS.full },
    fullLogn: { label: `full + log-n (log_${trainLength})`, options: { attention: 'full', logn: true }, color: COLORS.fullLogn, dashed: true },
    window: { label: `sliding window w = ${w}`, options: { attention: 'local', window: w }, color: COLORS.window },
    windowLogn: { label: `window ${w} + log-n`, options: { attention: 'local', window: w, logn: true }, color: COLORS.windowLogn, dashed: true },
  };
  const chosen = [...document.querySelectorAll('input[name="lab-mode"]:checked')].map((box) => box.value);
  // softmax_plus contains the log-n factor: the extra factor changes nothing there.
  const skipped = normaliser === 'softmax_plus' ? chosen.filter((key) => key.endsWith('Logn')) : [];
  return { list: chosen.filter((key) => !skipped.includes(key)).map((key) => ({ key, ...all[key] })), skipped };
}

// Mean of bits[n − 1] for contexts n in (from, to].
function meanOver(bits, from, to) {
  let sum = 0;
  let count = 0;
  for (let n = Math.max(1, from + 1); n <= Math.min(to, bits.length); n++) { sum += bits[n - 1]; count++; }
  return count ? sum / count : NaN;
}

async function run() {
  stopRequested = false;
  $('lab-stop').disabled = false;
  try {
    await evaluate();
  } catch (error) {
    // A stopped worker rejects the call it was running: that is the stop, not a failure.
    if (!(stopRequested && error.code === 'ABORTED')) throw error;
    $('lab-progress').querySelector('span').textContent = 'Stopped.';
  } finally {
    $('lab-stop').disabled = true;
  }
}

// Stops at once: an evaluation runs inside the worker for seconds, so the worker is ended and a
// fresh engine started (the model then reloads from the cache). In-page engines stop between calls.
async function stop() {
  stopRequested = true;
  $('lab-stop').disabled = true;
  if (typeof engine?.terminate !== 'function') return;
  engine.terminate();
  engine = await startEngine();
  models = modelSlot(engine, $('lab-progress'));
}

async function evaluate() {
  const name = $('lab-model').value;
  const length = Number($('lab-length').value);
  const progress = $('lab-progress');
  const lm = await models.get(name);
  if ($('lab-layer').options.length !== lm.info.layers) fillLayers(lm.info.layers);
  const { trainLength: L, normaliser } = lm.info;
  // The window defaults to the training length (the super-baseline) until the visitor sets one.
  if (!$('lab-window').dataset.chosen) $('lab-window').value = L;
  const w = Number($('lab-window').value);
  const segments = Number($('lab-segments').value);
  const heldout = await loadHeldoutText();
  if (heldout.length < segments * (length + 1)) {
    throw new BadArgumentError(`the held-out text holds ${heldout.length} characters, fewer than ` +
      `${segments} × ${length + 1}: choose fewer texts or a shorter length`);
  }
  // Disjoint stretches of held-out text, averaged position by position.
  const texts = Array.from({ length: segments }, (_, s) => heldout.slice(s * (length + 1), (s + 1) * (length + 1)));
  const { list, skipped } = modes(w, L, normaliser);
  if (list.length === 0) throw new BadArgumentError('choose at least one attention mode');
  const layer = Number($('lab-layer').value || lm.info.layers - 1);

  const bar = progress.querySelector('progress');
  const label = progress.querySelector('span');
  progress.hidden = false;
  bar.max = list.length * segments * 2 + 2;
  bar.value = 0;
  const results = [];
  for (const mode of list) {
    const bits = new Float32Array(length);
    const entropy = new Float32Array(length + 1);
    const started = performance.now();
    for (const [index, text] of texts.entries()) {
      if (stopRequested) break;
      const of = segments > 1 ? ` (text ${index + 1} of ${segments})` : '';
      label.textContent = `${name}: loss with ${mode.label} over ${length} characters${of}…`;
      const { nll } = await lm.evaluate(text, mode.options);
      for (let i = 0; i < length; i++) bits[i] += nll[i] / Math.LN2 / segments;
      bar.value++;
      label.textContent = `${name}: attention entropy of layer ${layer + 1} with ${mode.label}${of}…`;
      const { entropy: perHead, heads } = await lm.attentionEntropy(text, { layer, ...mode.options });
      for (let i = 0; i < entropy.length; i++) {
        for (let h = 0; h < heads; h++) entropy[i] += perHead[i * heads + h] / heads / segments;
      }
      bar.value++;
    }
    if (stopRequested) break;
    results.push({ ...mode, bits, entropy, seconds: (performance.now() - started) / 1000 });
    showLoss(results, L, length, name, skipped);
  }
  const text = texts[0];
  if (!stopRequested) await showHeatmaps(lm, text, L, w, layer, label);
  bar.value = bar.max;
  label.textContent = stopRequested ? 'Stopped.' :
    `Done: ${results.map((r) => `${r.label} ${r.seconds.toFixed(1)} s`).join(', ')} ` +
    `(${segments > 1 ? `${segments} texts of ` : ''}${length} characters).`;
}

function showLoss(results, L, length, name, skipped) {
  const lossSeries = results.map((r) => ({ label: r.label, color: r.color, dashed: r.dashed, points: logBinned(r.bits, 4, 8) }));
  const entropySeries = results.map((r) => ({ label: r.label, color: r.color, dashed: r.dashed, points: logBinned(r.entropy, 4, 8) }));
  const marks = [{ x: L, label: `L = ${L}` }, { x: 16 * L, label: '16 L' }];
  const allBits = lossSeries.flatMap((s) => s.points.map((p) => p[1]));
  const yMax = Math.min(8, Math.max(...allBits) + 0.2);
  draws.loss = () => lineChart($('lab-loss'), lossSeries, {
    xLog: 2, xLabel: 'characters of context (log scale)', yLabel: 'loss (bits per character)', marks,
    yRange: [Math.max(0, Math.min(...allBits) - 0.3), yMax], bands: [{ from: 1, to: L, label: 'training length' }],
  });
  draws.entropy = () => lineChart($('lab-entropy'), entropySeries, {
    xLog: 2, xLabel: 'characters of context (log scale)', yLabel: 'entropy (nats)', marks,
  });
  legend($('lab-legend'), lossSeries);
  legend($('lab-entropy-legend'), entropySeries);
  draws.loss();
  draws.entropy();

  const ranges = [[0, L], [L, 4 * L], [4 * L, 16 * L], [16 * L, 32 * L], [32 * L, 64 * L]].filter(([from]) => from < length);
  $('lab-table').innerHTML = `<thead><tr><th>bits per character, context n in</th>${ranges.map(([a, b]) => `<th>(${a}, ${Math.min(b, length)}]</th>`).join('')}</tr></thead>` +
    `<tbody>${results.map((r) => `<tr data-mode="${r.key}"><td>${r.label}</td>${ranges.map(([a, b]) => `<td>${meanOver(r.bits, a, b).toFixed(3)}</td>`).join('')}</tr>`).join('')}</tbody>`;

  // The comparison at 16× the training length: contexts in (12 L, 16 L].
  const at16 = Object.fromEntries(results.map((r) => [r.key, meanOver(r.bits, 12 * L, 16 * L)]));
  const chart = $('lab-loss');
  for (const r of results) chart.dataset[`at16x${r.key[0].toUpperCase()}${r.key.slice(1)}`] = at16[r.key].toFixed(4);
  chart.dataset.model = name;
  const inside = (key) => meanOver(results.find((r) => r.key === key).bits, 0, L);
  let sentence = '';
  if ('full' in at16 && 'window' in at16 && Number.isFinite(at16.full) && Number.isFinite(at16.window)) {
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
  $('lab-takeaway').textContent = sentence;
}

async function showHeatmaps(lm, text, L, w, layer, label) {
  const chars = [...text];
  const end = Math.min(chars.length, 16 * L);
  const begin = end - HEAT_ROWS;
  const span = Math.min(end, Math.max(3 * L, 2 * w));
  const prefix = chars.slice(0, end).join('');
  const crops = [];
  for (const [key, options] of [['full', { attention: 'full' }], ['window', { attention: 'local', window: w }]]) {
    label.textContent = `Attention weights of layer ${layer + 1}, ${key}…`;
    const { weights, keys } = await lm.attentionWeights(prefix, { layer, head: 0, queryBegin: begin, queryEnd: end, ...options });
    const crop = new Float32Array(HEAT_ROWS * span);
    for (let r = 0; r < HEAT_ROWS; r++) {
      for (let c = 0; c < span; c++) {
        const j = keys - span + c;
        crop[r * span + c] = j > begin + r ? NaN : weights[r * keys + j];
      }
    }
    crops.push([key, crop]);
  }
  $('lab-heat-full-caption').textContent = `Full attention, layer ${layer + 1}: queries ${begin}–${end - 1} (rows) over the last ${span} keys (columns, right = most recent).`;
  $('lab-heat-window-caption').textContent = `Sliding window w = ${w}: the same queries; nothing beyond ${w} keys back.`;
  draws.heat = () => {
    for (const [key, crop] of crops) heatmap($(`lab-heat-${key}`), crop, HEAT_ROWS, span, { zeroFloor: true, gamma: 0.4 });
  };
  draws.heat();
}

function fillLayers(count) {
  const select = $('lab-layer');
  select.replaceChildren(...Array.from({ length: count }, (_, i) => new Option(`layer ${i + 1}`, i, false, i === count - 1)));
}

renderShell('lab.html');
fillLayers(6);
lineChart($('lab-loss'), [], { empty: 'Press Run: the model reads held-out text with each attention mode.' });
lineChart($('lab-entropy'), [], { empty: '' });
onResize(() => { draws.loss(); draws.entropy(); draws.heat(); });
$('lab-window').addEventListener('input', () => { $('lab-window').dataset.chosen = 'true'; });
$('lab-stop').addEventListener('click', stop);
try {
  engine = await startEngine();
  models = modelSlot(engine, $('lab-progress'));
  $('lab-run').addEventListener('click', () => runAction($('lab-run'), () => run()));
  const params = new URLSearchParams(location.search);
  if (params.has('model')) $('lab-model').value = params.get('model');
  if (params.has('length')) $('lab-length').value = params.get('length');
  if (params.has('texts')) $('lab-segments').value = params.get('texts');
  if (params.has('autorun')) await runAction($('lab-run'), () => run());
} catch { /* startEngine showed the error */ }
