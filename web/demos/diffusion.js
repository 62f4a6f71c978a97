// Diffusion page: DDPM sampling of digits in the engine's worker (ddpm.sample with onStep), with
// x_t and the predicted x0 animated per step, replayable, and the noise schedule with the visited t.
import { imageGrid, legend, lineChart } from './plot.js';
import { $, COLORS, loadModel, onResize, renderShell, runAction, startEngine } from './site.js';

const T = 1000;
const MAX_FRAMES = 120;
let model = null;
let controller = null;
let frames = [];
let shape = null;
let drawSchedule = () => {};

// ᾱ_t = Π α_s with α_s = √(1 − 0.02 s/T) (ALGORITHMS.md §6.1), t = 0 … T.
const alphaBar = (() => {
  const values = [1];
  for (let t = 1; t <= T; t++) values.push(values[t - 1] * Math.sqrt(1 - (0.02 * t) / T));
  return values;
})();

function settings() {
  const method = document.querySelector('input[name="ddpm-method"]:checked').value;
  return {
    method,
    count: Number($('ddpm-count').value),
    steps: Number($('ddpm-steps').value),
    eta: Number($('ddpm-eta').value),
    sigma: $('ddpm-sigma').value,
    seed: Number($('ddpm-seed').value),
  };
}

function visitedSteps({ method, steps }) {
  if (method === 'ancestral') return Array.from({ length: T }, (_, i) => T - i);
  const stride = Math.max(1, Math.round(T / steps));
  // ddim.py: ᾱ[::stride] starts at t = 1 and ends at 1 + stride·(len − 1).
  const visited = [];
  for (let t = 1; t <= T; t += stride) visited.push(t);
  return visited.reverse();
}

function showSchedule() {
  const visited = visitedSteps(settings());
  const series = [
    { label: 'ᾱ_t', color: COLORS.window, points: alphaBar.map((value, t) => [t, value]) },
    { label: `steps visited: ${visited.length}${visited.length < T ? `, stride ${visited.length > 1 ? visited[0] - visited[1] : T}` : ''}`, color: COLORS.full, points: visited.length <= 250 ? visited.map((t) => [t, alphaBar[t]]) : [], dots: true, width: 0 },
  ];
  drawSchedule = () => lineChart($('ddpm-schedule'), series, { xLabel: 't', yLabel: 'ᾱ_t', yRange: [0, 1] });
  legend($('ddpm-schedule-legend'), series);
  drawSchedule();
}

function showFrame(index) {
  const frame = frames[index];
  if (!frame || !shape) return;
  const columns = Math.min(8, Math.ceil(Math.sqrt(shape.count)));
  const grid = { count: shape.count, size: shape.imageSize, channels: shape.channels, columns };
  imageGrid($('ddpm-x'), frame.x, grid);
  imageGrid($('ddpm-x0'), frame.x0, grid);
  $('ddpm-step').textContent = `${frame.step} / ${frame.totalSteps}`;
  $('ddpm-t').textContent = frame.k + 1;
}

async function sample(engine) {
  model ??= await loadModel(engine, 'ddpm-digits', $('ddpm-progress'));
  const options = settings();
  const { method, count, steps, eta, sigma, seed } = options;
  shape = { count, imageSize: model.info.imageSize, channels: model.info.channels };
  frames = [];
  const replay = $('ddpm-replay');
  replay.disabled = true;
  controller = new AbortController();
  $('ddpm-stop').disabled = false;
  const totalCalls = method === 'ancestral' ? T : visitedSteps(options).length;
  const keepEvery = Math.max(1, Math.ceil(totalCalls / MAX_FRAMES));
  const started = performance.now();
  let lastPaint = 0;
  try {
    await model.sample({
      count, seed, signal: controller.signal,
      ...(method === 'ancestral' ? { method: 'ancestral', sigma } : { method: 'ddim', steps, eta }),
      onStep: (frame) => {
        if (frame.step % keepEvery === 0 || frame.step === frame.totalSteps || frame.step === 1) frames.push(frame);
        const now = performance.now();
        if (now - lastPaint > 40 || frame.step === frame.totalSteps) {
          showFrame(frames.length - 1);
          lastPaint = now;
        }
        $('ddpm-time').textContent = `${((now - started) / 1000).toFixed(2)} s`;
      },
    });
  } catch (error) {
    if (error.code !== 'ABORTED') throw error;
  } finally {
    $('ddpm-stop').disabled = true;
  }
  const seconds = (performance.now() - started) / 1000;
  const done = frames.at(-1)?.step ?? 0;
  $('ddpm-time').textContent = `${seconds.toFixed(2)} s`;
  $('ddpm-per-step').textContent = done ? `${((seconds * 1000) / done).toFixed(1)} ms for ${count} images` : '–';
  replay.max = String(frames.length - 1);
  replay.value = replay.max;
  replay.disabled = frames.length < 2;
  showFrame(frames.length - 1);
  document.body.dataset.steps = String(done);
}

renderShell('diffusion.html');
for (const input of document.querySelectorAll('input[name="ddpm-method"]')) {
  input.addEventListener('change', () => {
    const ancestral = settings().method === 'ancestral';
    $('ddpm-steps').disabled = ancestral;
    $('ddpm-eta').disabled = ancestral;
    $('ddpm-sigma').disabled = !ancestral;
    showSchedule();
  });
}
$('ddpm-steps').addEventListener('change', showSchedule);
$('ddpm-replay').addEventListener('input', () => showFrame(Number($('ddpm-replay').value)));
$('ddpm-stop').addEventListener('click', () => controller?.abort());
showSchedule();
onResize(() => { drawSchedule(); showFrame(Number($('ddpm-replay').value) || frames.length - 1); });
try {
  const engine = await startEngine();
  const run = () => runAction($('ddpm-run'), () => sample(engine));
  $('ddpm-run').addEventListener('click', run);
  const params = new URLSearchParams(location.search);
  for (const key of ['count', 'steps', 'seed']) if (params.has(key)) $(`ddpm-${key}`).value = params.get(key);
  showSchedule();
  if (params.has('autorun')) await run();
} catch { /* startEngine showed the error */ }
