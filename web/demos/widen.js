// Widening page: lm.widen(k) on a shipped model in the engine with max |Δ logits| (verify) and greedy
// continuations of both; and the pitfalls on a float64 toy encoder (widen-toy.js).
import { $, formatNumber, modelSlot, randomGenerator, renderShell, runAction, startEngine } from './site.js';
import { forward, maxAbsDifference, randomModel, widen } from './widen-toy.js';

const PROMPT = 'It is a truth universally acknowledged, that a single man in possession of a good fortune';
const CONTINUATION = 120;
let models = null;  // modelSlot, once the engine is up

const checked = (name) => document.querySelector(`input[name="${name}"]:checked`).value;

async function greedy(lm) {
  let text = '';
  for await (const piece of await lm.generate(PROMPT, { maxTokens: CONTINUATION, temperature: 0, seed: 0 })) text += piece;
  return text;
}

async function widenShipped() {
  const name = $('widen-model').value;
  const k = Number(checked('widen-k'));
  const exactRope = checked('widen-rope') === 'exact';
  const lm = await models.get(name);
  const started = performance.now();
  const wide = await lm.widen(k, { exactRope });
  const ms = performance.now() - started;
  try {
    const delta = await wide.verify(PROMPT);
    $('widen-hidden').textContent = `${lm.info.hidden} → ${wide.info.hidden}`;
    $('widen-params').textContent = `${(lm.info.parameters / 1e6).toFixed(2)}M → ${(wide.info.parameters / 1e6).toFixed(2)}M`;
    $('widen-delta').textContent = formatNumber(delta, 2);
    $('widen-delta').dataset.value = String(delta);
    $('widen-time').textContent = `${ms.toFixed(0)} ms`;
    const [original, widened] = [await greedy(lm), await greedy(wide)];
    $('widen-text-original').textContent = original;
    // The widened text with everything from its first difference marked.
    let common = 0;
    while (common < widened.length && widened[common] === original[common]) common++;
    const diverged = document.createElement('mark');
    diverged.textContent = widened.slice(common);
    $('widen-text-wide').replaceChildren(widened.slice(0, common), ...(common < widened.length ? [diverged] : []));
    const same = original === widened;
    $('widen-takeaway').textContent = exactRope
      ? `Widened ×${k} with the duplicated θ table: the logits differ by at most ${formatNumber(delta, 2)}, float32 rounding, ` +
        `and the greedy continuations are ${same ? 'identical' : 'different (a near-tie flipped by rounding)'}.`
      : `With standard RoPE at the wider head size the frequencies of most pairs change: the logits differ by up to ` +
        `${formatNumber(delta, 2)}, and the greedy continuations are ${same ? 'still identical' : 'different'}. ` +
        'The post calls RoPE models only approximately widenable for this reason.';
  } finally {
    await wide.dispose();
  }
}

function runToy() {
  const k = Number(checked('toy-k'));
  const heads = Number(checked('toy-heads'));
  const pitfalls = { typo: $('toy-typo').checked, keepEps: $('toy-eps').checked, tile: $('toy-tile').checked };
  const random = randomGenerator(Number($('toy-seed').value) >>> 0);
  const model = randomModel(random.normal);
  const ids = Array.from({ length: 7 }, () => Math.floor(random.uniform() * 50));
  const delta = maxAbsDifference(forward(model, ids, heads), forward(widen(model, k, pitfalls), ids, heads));
  $('toy-delta').textContent = delta.toExponential(1);
  $('toy-delta').dataset.value = String(delta);
  const exact = delta < 1e-9;
  $('toy-verdict').textContent = exact ? 'exact' : 'broken';
  $('toy-verdict').className = exact ? 'yes' : 'bad';
  const notes = [];
  if (pitfalls.typo) notes.push(`The FFN output bias must shrink by √${k}, like every vector on the residual stream; b/${k} leaves it ${Math.sqrt(k).toFixed(2)}× too small.`);
  if (pitfalls.keepEps) notes.push(`Each LayerNorm now sees variance/${k}; with ε unchanged, ε weighs ${k}× more against it.`);
  if (pitfalls.tile) notes.push(heads > 1
    ? 'Tiling puts copies of head 1\'s features into head 2 after the reshape into heads: the heads are scrambled.'
    : 'With one head, tiling is only a permutation of repeating in place, applied consistently: still exact.');
  if (!notes.length) notes.push('Every rule as in the table: the wide model computes the same logits, to float64 rounding.');
  $('toy-explain').textContent = notes.join(' ');
}

renderShell('widen.html');
for (const input of document.querySelectorAll('input[name^="toy-"], #toy-typo, #toy-eps, #toy-tile, #toy-seed')) {
  input.addEventListener('change', runToy);
}
runToy();
try {
  const engine = await startEngine();
  models = modelSlot(engine, $('widen-progress'));
  const run = () => runAction($('widen-run'), () => widenShipped());
  $('widen-run').addEventListener('click', run);
  if (new URLSearchParams(location.search).has('autorun')) await run();
} catch { /* startEngine showed the error */ }
