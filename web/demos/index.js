// The demo site's first page: the engine's features and a live RoPE example computed in wasm.
import { createEngine } from '../lib/index.js';
import { heatmap } from '../lib/elements/plot.js';
import { $, PAGES, dot, engineOptionsFromQuery, renderShell, repeatRows } from './site.js';

const HEAD_DIM = 16;
const POSITIONS = 64;
const SHIFTS = [0, 7, 19, 31];

function showFeature(id, value) {
  const element = $(id);
  if (typeof value === 'boolean') {
    element.textContent = value ? 'yes' : 'no';
    element.className = value ? 'yes' : 'no';
  } else {
    element.textContent = value;
  }
}

// A fixed pseudo-random vector, so the page shows the same numbers on every load.
function seededVector(length, seed) {
  let state = seed >>> 0;
  return Float32Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

function drawHeatmap(canvas, scores, marked) {
  heatmap(canvas, scores, POSITIONS, POSITIONS, { palette: 'diverging' });
  const context = canvas.getContext('2d');
  const cell = canvas.width / POSITIONS;
  context.lineWidth = 2;
  context.strokeStyle = '#1d2433';
  for (const [m, n] of marked) context.strokeRect(n * cell + 1, m * cell + 1, cell - 2, cell - 2);
}

function renderPageCards() {
  $('pages').replaceChildren(...PAGES.map((page) => {
    const link = document.createElement('a');
    link.href = page.file;
    const title = document.createElement('strong');
    title.textContent = page.title;
    const blurb = document.createElement('span');
    blurb.textContent = page.blurb;
    link.append(title, blurb);
    return link;
  }));
}

async function main() {
  renderShell('index.html');
  renderPageCards();
  const started = performance.now();
  const engine = await createEngine(engineOptionsFromQuery());
  const loadMs = performance.now() - started;

  const { features } = engine;
  showFeature('feature-simd', features.simd);
  showFeature('feature-threads', features.threads);
  showFeature('feature-version', features.version);
  showFeature('feature-flavour', `gyre-${features.flavour}.wasm`);
  showFeature('feature-isolated', globalThis.crossOriginIsolated === true);
  showFeature('feature-load-time', `${loadMs.toFixed(0)} ms`);
  const { simd: hasSimd, threads, version } = features;
  $('features-json').textContent =
    `engine.features = ${JSON.stringify({ simd: hasSimd, threads, version }, null, 1).replace(/\n\s*/g, ' ')}`;
  $('footer-version').textContent = `v${features.version}`;

  const q = seededVector(HEAD_DIM, 7);
  const k = seededVector(HEAD_DIM, 11);
  // Every query position and every key position, rotated in wasm in one call each.
  const rotatedQ = engine.rope(repeatRows(q, POSITIONS), { headDim: HEAD_DIM, position: 0 });
  const rotatedK = engine.rope(repeatRows(k, POSITIONS), { headDim: HEAD_DIM, position: 0 });
  const scores = [];
  for (let m = 0; m < POSITIONS; m++) {
    for (let n = 0; n < POSITIONS; n++) {
      scores.push(dot(rotatedQ, m * HEAD_DIM, rotatedK, n * HEAD_DIM, HEAD_DIM));
    }
  }

  // One query at m and one key at n, rotated by the engine on every slider move.
  const score = (m, n) => dot(engine.rope(q, { headDim: HEAD_DIM, position: m }), 0,
    engine.rope(k, { headDim: HEAD_DIM, position: n }), 0, HEAD_DIM);

  const mInput = $('rope-m');
  const nInput = $('rope-n');
  const update = () => {
    const m = Number(mInput.value);
    const n = Number(nInput.value);
    $('rope-m-value').textContent = m;
    $('rope-n-value').textContent = n;
    $('rope-score').textContent = score(m, n).toFixed(5);
    $('rope-offset').textContent = m - n;
    const rows = [];
    const marked = [[m, n]];
    let spread = 0;
    const base = score(m, n);
    for (const shift of SHIFTS) {
      const row = document.createElement('tr');
      const value = score(m + shift, n + shift);
      spread = Math.max(spread, Math.abs(value - base));
      for (const text of [m + shift, n + shift, value.toFixed(5)]) {
        const cell = document.createElement('td');
        cell.textContent = text;
        row.append(cell);
      }
      rows.push(row);
      if (m + shift < POSITIONS && n + shift < POSITIONS) marked.push([m + shift, n + shift]);
    }
    $('rope-shifts').replaceChildren(...rows);
    $('rope-check').textContent =
      `Largest difference across the shifts: ${spread.toExponential(1)} (float32 rounding).`;
    drawHeatmap($('rope-heatmap'), scores, marked);
  };
  for (const input of [mInput, nInput]) {
    input.disabled = false;
    input.addEventListener('input', update);
  }
  update();

  $('status').textContent = 'Ready: the engine is running in this page.';
  document.body.dataset.state = 'ready';
}

main().catch((error) => {
  console.error(error);
  const box = $('error');
  box.hidden = false;
  box.textContent = `${error.name}${error.code ? ` [${error.code}]` : ''}: ${error.message}`;
  $('status').textContent = 'The engine could not start.';
  document.body.dataset.state = 'error';
  document.body.dataset.errorCode = error.code ?? '';
});
