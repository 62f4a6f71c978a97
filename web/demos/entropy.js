// Entropy page: attention entropy against the number of keys, with and without the log-n scale,
// for random heads (the engine's fused attention kernel) and for trained heads (a shipped model).
import { legend, lineChart } from '../lib/elements/plot.js';
import {
  $, COLORS, loadHeldoutText, logBinned, modelSlot, onResize, randomGenerator, renderShell, runAction, startEngine,
} from './site.js';

const KEY_COUNTS = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
const PEAK_COSINE = 0.6;
const draws = { random: () => {}, trained: () => {} };

// `count` vectors of `dim` floats on the sphere of radius √dim.
function sphere(random, count, dim) {
  const out = new Float32Array(count * dim);
  for (let r = 0; r < count; r++) {
    let norm = 0;
    for (let i = 0; i < dim; i++) { const v = random.normal(); out[r * dim + i] = v; norm += v * v; }
    const scale = Math.sqrt(dim / norm);
    for (let i = 0; i < dim; i++) out[r * dim + i] *= scale;
  }
  return out;
}

// Head h's key 0 := cos·q_h + sin·(a unit vector ⟂ q_h), both of radius √dim.
function alignFirstKey(queries, keys, heads, dim, cosine, random) {
  for (let h = 0; h < heads; h++) {
    const q = queries.subarray(h * dim, (h + 1) * dim);
    const other = Float32Array.from({ length: dim }, random.normal);
    let along = 0;
    for (let i = 0; i < dim; i++) along += other[i] * q[i] / dim;
    let norm = 0;
    for (let i = 0; i < dim; i++) { other[i] -= along * q[i]; norm += other[i] ** 2; }
    const sine = Math.sqrt(1 - cosine ** 2) * Math.sqrt(dim / norm);
    for (let i = 0; i < dim; i++) keys[h * dim + i] = cosine * q[i] + sine * other[i];
  }
}

async function randomHeads(engine) {
  const dim = Number($('random-dim').value);
  const heads = Number($('random-heads').value);
  const random = randomGenerator(Number($('random-seed').value) >>> 0);
  // One query per head; the heads are independent random problems averaged together.
  const queries = sphere(random, heads, dim);
  const curves = { standard: [], logn: [], standardPeaked: [], lognPeaked: [] };
  for (const n of KEY_COUNTS) {
    const keys = sphere(random, n * heads, dim);  // row j holds key j of every head
    const values = new Float32Array(n * heads);   // value size 1: only the entropy is wanted
    const options = { queries: 1, keys: n, heads, headDim: dim, valueDim: 1, mask: 'bidirectional', entropy: true };
    const mean = async (normaliser) => {
      const { entropy } = await engine.kernels.attention(queries, keys, values, { ...options, normaliser });
      return entropy.reduce((a, b) => a + b, 0) / entropy.length;
    };
    curves.standard.push([n, await mean('softmax')]);
    curves.logn.push([n, await mean('softmax_plus')]);
    alignFirstKey(queries, keys, heads, dim, PEAK_COSINE, random);
    curves.standardPeaked.push([n, await mean('softmax')]);
    curves.lognPeaked.push([n, await mean('softmax_plus')]);
  }
  const slope = (curve) => (curve.at(-1)[1] - curve[2][1]) / Math.log(KEY_COUNTS.at(-1) / KEY_COUNTS[2]);
  const rows = [
    ['uniform attention, log n', KEY_COUNTS.map((n) => Math.log(n)), 1],
    ['random, 1/√d', curves.standard.map((p) => p[1]), slope(curves.standard)],
    ['random, log₅₁₂ n/√d', curves.logn.map((p) => p[1]), slope(curves.logn)],
    ['peaked, 1/√d', curves.standardPeaked.map((p) => p[1]), slope(curves.standardPeaked)],
    ['peaked, log₅₁₂ n/√d', curves.lognPeaked.map((p) => p[1]), slope(curves.lognPeaked)],
  ];
  $('random-table').innerHTML = `<thead><tr><th>entropy (nats) at n =</th>${KEY_COUNTS.map((n) => `<th>${n}</th>`).join('')}<th>slope vs log n (64→4096)</th></tr></thead>` +
    `<tbody>${rows.map(([label, values, s]) => `<tr><td>${label}</td>${values.map((v) => `<td>${v.toFixed(2)}</td>`).join('')}<td>${s.toFixed(2)}</td></tr>`).join('')}</tbody>`;
  $('random-table').dataset.slopeStandard = slope(curves.standard).toFixed(4);
  $('random-table').dataset.slopeLogn = slope(curves.logn).toFixed(4);
  $('random-table').dataset.slopePeakedStandard = slope(curves.standardPeaked).toFixed(4);
  $('random-table').dataset.slopePeakedLogn = slope(curves.lognPeaked).toFixed(4);
  $('random-takeaway').textContent = `Between n = 64 and 4096 the entropy of a random head grows with slope ` +
    `${slope(curves.standard).toFixed(2)} against log n under the usual scale and ${slope(curves.logn).toFixed(2)} ` +
    `under the log-n scale (the reference simulation of docs/ALGORITHMS.md §2.5: 3.69 → 7.83 and 3.94 → 7.46 nats). ` +
    `Random vectors are only partly invariant; with one relevant key the slopes are ` +
    `${slope(curves.standardPeaked).toFixed(2)} and ${slope(curves.lognPeaked).toFixed(2)}. Trained heads, below, show the real effect.`;
  const series = [
    { label: 'log n (uniform attention)', color: COLORS.grey, points: KEY_COUNTS.map((n) => [n, Math.log(n)]), width: 1, dashed: true },
    { label: 'random, 1/√d', color: COLORS.full, points: curves.standard },
    { label: 'random, log₅₁₂(n)/√d', color: COLORS.window, points: curves.logn },
    { label: 'peaked, 1/√d', color: COLORS.fullLogn, points: curves.standardPeaked, dots: true },
    { label: 'peaked, log₅₁₂(n)/√d', color: COLORS.windowLogn, points: curves.lognPeaked, dots: true },
  ];
  draws.random = () => lineChart($('random-chart'), series, { xLog: 2, xLabel: 'keys per query n (log scale)', yLabel: 'entropy (nats)', yRange: [0, Math.log(4096) + 0.3] });
  legend($('random-legend'), series);
  draws.random();
}

let models = null;  // modelSlot, once the engine is up

async function trainedHeads() {
  const name = $('trained-model').value;
  const layer = Number($('trained-layer').value || 0);
  const length = Number($('trained-length').value);
  const lm = await models.get(name);
  if ($('trained-layer').options.length !== lm.info.layers) fillLayers(lm.info.layers, Math.min(layer, lm.info.layers - 1));
  const { trainLength } = lm.info;
  const text = (await loadHeldoutText()).slice(0, length);
  const variants = name === 'gau-lm-softmax-plus'
    ? [['as trained (softmax_plus)', { attention: 'as-trained' }, COLORS.softmaxPlus]]
    : [['full attention', { attention: 'full' }, COLORS.full],
      [`full + log-n, max(1, log_${trainLength} n)`, { attention: 'full', logn: true }, COLORS.window]];
  const series = [];
  for (const [label, attention, color] of variants) {
    const { entropy, heads } = await lm.attentionEntropy(text, { layer, ...attention });
    // Heads averaged per position (entropy is [positions × heads]).
    const perPosition = new Float32Array(entropy.length / heads);
    for (let i = 0; i < perPosition.length; i++) {
      let sum = 0;
      for (let h = 0; h < heads; h++) sum += entropy[i * heads + h];
      perPosition[i] = sum / heads;
    }
    series.push({ label, color, points: logBinned(perPosition, 4, 8) });
  }
  series.unshift({ label: 'log n (uniform attention)', color: COLORS.grey, points: [[1, 0], [length, Math.log(length)]].map(([n]) => [n, Math.log(n)]), width: 1, dashed: true });
  const marks = [{ x: trainLength, label: `training length ${trainLength}` }];
  draws.trained = () => lineChart($('trained-chart'), series, { xLog: 2, xLabel: 'position + 1 = keys seen n (log scale)', yLabel: 'entropy (nats)', marks, yRange: [0, Math.log(length) + 0.3] });
  legend($('trained-legend'), series);
  draws.trained();
  const last = (s) => s.points.at(-1)[1];
  const atTrain = (s) => s.points.reduce((best, p) => (Math.abs(Math.log(p[0] / trainLength)) < Math.abs(Math.log(best[0] / trainLength)) ? p : best))[1];
  $('trained-takeaway').textContent = series.slice(1).map((s) =>
    `${s.label}: ${atTrain(s).toFixed(2)} nats at n ≈ ${trainLength}, ${last(s).toFixed(2)} at n ≈ ${length}`).join('; ') + '.';
}

function fillLayers(count, selected = 0) {
  const select = $('trained-layer');
  select.replaceChildren(...Array.from({ length: count || 1 }, (_, i) => new Option(`layer ${i + 1}`, i, false, i === selected)));
}

renderShell('entropy.html');
fillLayers(6, 0);
lineChart($('trained-chart'), [], { empty: 'Press Measure to run a shipped model over held-out text.' });
onResize(() => { draws.random(); draws.trained(); });
try {
  const engine = await startEngine();
  models = modelSlot(engine, $('trained-progress'));
  const runRandom = () => runAction($('random-run'), () => randomHeads(engine));
  $('random-run').addEventListener('click', runRandom);
  $('trained-run').addEventListener('click', () => runAction($('trained-run'), () => trainedHeads()));
  await runRandom();
} catch { /* startEngine showed the error */ }
