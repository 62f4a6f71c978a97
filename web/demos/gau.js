// GAU page: the first layer of the shipped GAU-LM, computed by the engine's kernels on a short input
// with a choice of normaliser, and the FLOPs and memory of MHA, GAU and FLASH against n.
import { BadArgumentError, fetchBytes, fetchBytesCached } from '../lib/index.js';
import { heatmap, legend, lineChart } from '../lib/elements/plot.js';
import {
  $, COLORS, MODELS_URL, downloadProgress, formatNumber, onResize, renderShell, runAction, startEngine,
} from './site.js';

const MODEL = 'gau-lm-softmax-plus';
const draws = { inspector: () => {}, cost: () => {}, measure: () => {} };
let weights = null;  // { config, tensors }

async function loadWeights(engine) {
  if (weights) return weights;
  const progress = downloadProgress($('gau-progress'), MODEL);
  const configFile = await fetchBytes(new URL(`${MODEL}/config.json`, MODELS_URL), { what: 'the model config' });
  const config = JSON.parse(new TextDecoder().decode(configFile.bytes));
  // The same Cache API entry as the language model pages use for this model.
  const { bytes } = await fetchBytesCached(new URL(`${MODEL}/model.safetensors`, MODELS_URL),
    { what: 'the model weights', onProgress: progress.onProgress });
  const { tensors } = await engine.loadSafetensors(bytes);
  progress.done(`: ${tensors.size} tensors, ${config.parameters.toLocaleString('en')} parameters`);
  weights = { config, tensors };
  return weights;
}

async function inspect(engine) {
  const { config, tensors } = await loadWeights(engine);
  const { hidden: d, expansion: e, key_size: s } = config.architecture;
  const vocab = config.tokenizer.vocab;
  const chars = [...$('gau-input').value];
  if (chars.length < 2) throw new BadArgumentError('type at least two characters');
  const ids = chars.map((ch) => Math.max(0, vocab.indexOf(ch)));
  const n = ids.length;
  const normaliser = document.querySelector('input[name="gau-normaliser"]:checked').value;

  // X = RMSNorm(E[ids]) (no gain), the input of layer 1.
  const embeddings = tensors.get('embeddings.weight').data;
  const x = new Float32Array(n * d);
  const eps = config.norm?.eps ?? 1e-6;
  ids.forEach((id, row) => {
    let sum = 0;
    for (let i = 0; i < d; i++) sum += embeddings[id * d + i] ** 2;
    const scale = 1 / Math.sqrt(sum / d + eps);
    for (let i = 0; i < d; i++) x[row * d + i] = embeddings[id * d + i] * scale;
  });
  const width = 2 * e + s;
  const uvz = await engine.kernels.gemm(x, tensors.get('layers.0.i_dense.weight').data,
    { m: n, n: width, k: d, transposeB: true, activation: 'silu' });
  const columns = (from, count) => {
    const out = new Float32Array(n * count);
    for (let r = 0; r < n; r++) out.set(uvz.subarray(r * width + from, r * width + from + count), r * count);
    return out;
  };
  const u = columns(0, e);
  const v = columns(e, e);
  const z = columns(2 * e, s);
  const qScale = tensors.get('layers.0.q_scale').data;
  const kScale = tensors.get('layers.0.k_scale').data;
  const q = z.map((value, i) => value * qScale[i % s]);
  const k = z.map((value, i) => value * kScale[i % s]);
  const [qr, kr] = await Promise.all([engine.rope(q, { headDim: s }), engine.rope(k, { headDim: s })]);
  const a = await engine.kernels.attentionWeights(qr, kr, {
    queries: n, keys: n, headDim: s, mask: 'causal', normaliser, scale: 1 / Math.sqrt(s),
  });
  const av = await engine.kernels.gemm(a, v, { m: n, n: e, k: n });
  const gated = u.map((value, i) => value * av[i]);
  const out = await engine.kernels.gemm(gated, tensors.get('layers.0.o_dense.weight').data,
    { m: n, n: d, k: e, transposeB: true });

  let rowSum = 0;
  let zeros = 0;
  const shown = Float32Array.from(a);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (c > r) { shown[r * n + c] = NaN; continue; }
      rowSum += a[r * n + c];
      if (a[r * n + c] === 0) zeros++;
    }
  }
  $('gau-n').textContent = n;
  $('gau-sizes').textContent = `${d} / ${e} / ${s}`;
  $('gau-rowsum').textContent = `${formatNumber(rowSum / n, 4)} (mean)`;
  $('gau-zeros').textContent = `${(100 * zeros / (n * (n + 1) / 2)).toFixed(1)} %`;
  $('gau-tokens').textContent = `Rows, top to bottom: ${chars.map((ch) => (ch === ' ' ? '␣' : ch)).join(' ')}. ` +
    `Colours: viridis from each matrix's minimum to its maximum; A from 0.`;
  document.body.dataset.normaliser = normaliser;
  draws.inspector = () => {
    heatmap($('gau-a'), shown, n, n, { zeroFloor: true, gamma: 0.5 });
    heatmap($('gau-z'), z, n, s);
    heatmap($('gau-u'), u, n, e);
    heatmap($('gau-v'), v, n, e);
    heatmap($('gau-o'), out, n, d, { palette: 'diverging' });
  };
  draws.inspector();
}

// Causal cost of one MHA + FFN block and of two GAU layers (quadratic and FLASH) at length n.
function costs(n, { d, heads, s, c }) {
  const e = 2 * d;
  const pairs = (n * (n + 1)) / 2;
  const gauProjections = 2 * n * d * (2 * e + s) + 2 * n * e * d;
  const chunks = Math.ceil(n / c);
  return {
    mha: { flops: 24 * n * d * d + pairs * 4 * d, memory: heads * n * n },
    gau: { flops: 2 * (gauProjections + pairs * 2 * (s + e)), memory: n * n },
    flash: {
      flops: 2 * (gauProjections + chunks * ((c * (c + 1)) / 2) * 2 * (s + e) + 4 * n * s * e),
      memory: chunks * c * c + chunks * s * e,
    },
  };
}

function drawCosts() {
  const settings = { d: Number($('cost-d').value), heads: Number($('cost-heads').value), s: Number($('cost-s').value), c: Number($('cost-c').value) };
  const lengths = [];
  for (let n = 128; n <= 65536; n = Math.round(n * 1.25)) lengths.push(n);
  const table = lengths.map((n) => [n, costs(n, settings)]);
  const series = (key, field) => table.map(([n, cost]) => [n, cost[key][field]]);
  const names = [['mha', `MHA + FFN, ${settings.heads} heads`, COLORS.full], ['gau', '2 × GAU, quadratic', COLORS.window], ['flash', `2 × FLASH, c = ${settings.c}`, COLORS.windowLogn]];
  const flops = names.map(([key, label, color]) => ({ label, color, points: series(key, 'flops') }));
  const memory = names.map(([key, label, color]) => ({ label, color, points: series(key, 'memory') }));
  let crossover = lengths.find((n) => { const cost = costs(n, settings); return cost.flash.flops < cost.gau.flops; });
  const at = costs(16384, settings);
  $('cost-takeaway').textContent = `FLASH needs fewer FLOPs than quadratic GAU from n ≈ ${crossover ?? '> 65536'}; ` +
    `at n = 16384 it needs ${(at.gau.flops / at.flash.flops).toFixed(1)}× fewer FLOPs and ` +
    `${(at.gau.memory / at.flash.memory).toFixed(0)}× less attention memory than quadratic GAU, which itself holds ` +
    `${settings.heads}× less than ${settings.heads}-head MHA. Below the crossover the projections dominate and the ` +
    'three cost about the same, which is why Su values quadratic GAU more than the linear part.';
  draws.cost = () => {
    lineChart($('cost-flops'), flops, { xLog: 2, yLog: 10, xLabel: 'sequence length n', yLabel: 'FLOPs' });
    lineChart($('cost-memory'), memory, { xLog: 2, yLog: 10, xLabel: 'sequence length n', yLabel: 'floats' });
  };
  legend($('cost-legend'), flops);
  draws.cost();
}

const MEASURED_LENGTHS = [256, 512, 1024, 2048, 4096];

async function measure(engine) {
  const container = $('measure-progress');
  container.hidden = false;
  const bar = container.querySelector('progress');
  const label = container.querySelector('span');
  bar.max = MEASURED_LENGTHS.length * 2;
  bar.value = 0;
  const quad = [];
  const flash = [];
  for (const n of MEASURED_LENGTHS) {
    label.textContent = `n = ${n}: quadratic relu² attention…`;
    const q = await engine.kernels.benchmark({ kernel: 'attention', n, headDim: 64, valueDim: 128, mask: 'causal', normaliser: 'relu2', minMs: 150, minRuns: 3 });
    bar.value++;
    label.textContent = `n = ${n}: FLASH mixed-chunk…`;
    const f = await engine.kernels.benchmark({ kernel: 'flash', n, chunk: 256, qkDim: 64, valueDim: 128, minMs: 150, minRuns: 3 });
    bar.value++;
    quad.push([n, q.medianMs]);
    flash.push([n, f.medianMs]);
  }
  label.textContent = 'Done.';
  const series = [
    { label: 'quadratic relu² attention (causal)', color: COLORS.window, points: quad, dots: true },
    { label: 'FLASH mixed-chunk, c = 256', color: COLORS.windowLogn, points: flash, dots: true },
  ];
  draws.measure = () => lineChart($('measure-chart'), series, { xLog: 2, yLog: 10, xLabel: 'sequence length n', yLabel: 'milliseconds' });
  legend($('measure-legend'), series);
  draws.measure();
  const last = MEASURED_LENGTHS.length - 1;
  const faster = MEASURED_LENGTHS.find((n, i) => flash[i][1] < quad[i][1]);
  $('measure-chart').dataset.quadMs = quad.map((p) => p[1].toFixed(3)).join(',');
  $('measure-chart').dataset.flashMs = flash.map((p) => p[1].toFixed(3)).join(',');
  $('measure-takeaway').textContent = `At n = ${MEASURED_LENGTHS[last]}: ${quad[last][1].toFixed(1)} ms quadratic, ` +
    `${flash[last][1].toFixed(1)} ms FLASH (${(quad[last][1] / flash[last][1]).toFixed(1)}×). ` +
    (faster ? `FLASH is faster from n = ${faster} on in this run.` : 'FLASH was not faster at any measured length in this run.');
}

renderShell('gau.html');
lineChart($('measure-chart'), [], { empty: 'Press Measure to time both kernels at n = 256 … 4096 (a few seconds).' });
onResize(() => { draws.inspector(); draws.cost(); draws.measure(); });
for (const id of ['cost-d', 'cost-heads', 'cost-s', 'cost-c']) $(id).addEventListener('change', drawCosts);
drawCosts();
try {
  const engine = await startEngine();
  const run = () => runAction($('gau-run'), () => inspect(engine));
  $('gau-run').addEventListener('click', run);
  $('measure-run').addEventListener('click', () => runAction($('measure-run'), () => measure(engine)));
  for (const radio of document.querySelectorAll('input[name="gau-normaliser"]')) radio.addEventListener('change', run);
  $('gau-input').addEventListener('keydown', (event) => { if (event.key === 'Enter') run(); });
  await run();
} catch { /* startEngine showed the error */ }
