// Write page: streamed generation from a shipped language model (lm.generate, an async iterator
// served from the engine's worker), with sampling controls and live tokens per second.
import { $, modelSlot, renderShell, runAction, startEngine } from './site.js';

let models = null;  // modelSlot, once the engine is up
let controller = null;

async function generate() {
  const name = $('write-model').value;
  const lm = await models.get(name);
  if ($('write-random-seed').checked) $('write-seed').value = Math.floor(Math.random() * 1e9);
  const prompt = $('write-prompt').value;
  const options = {
    maxTokens: Number($('write-max').value),
    temperature: Number($('write-temperature').value),
    topK: Number($('write-topk').value),
    topP: Number($('write-topp').value),
    repetitionPenalty: Number($('write-penalty').value),
    seed: Number($('write-seed').value),
    attention: $('write-attention').value,
  };
  const output = $('write-output');
  const generated = output.querySelector('.generated');
  output.querySelector('.prompt').textContent = prompt;
  generated.textContent = '';
  $('write-seed-used').textContent = options.seed;
  controller = new AbortController();
  $('write-stop').disabled = false;
  const started = performance.now();
  let first = 0;
  let count = 0;
  let text = '';
  let lastPaint = 0;
  const paint = () => {
    generated.textContent = text;
    $('write-count').textContent = count;
    const seconds = (performance.now() - first) / 1000;
    if (count > 1 && seconds > 0) $('write-speed').textContent = ((count - 1) / seconds).toFixed(0);
  };
  try {
    for await (const piece of await lm.generate(prompt, { ...options, signal: controller.signal })) {
      if (count === 0) {
        first = performance.now();
        $('write-first').textContent = `${(first - started).toFixed(0)} ms`;
      }
      count++;
      text += piece;
      if (performance.now() - lastPaint > 30) { paint(); lastPaint = performance.now(); }
    }
  } catch (error) {
    if (error.code !== 'ABORTED') throw error;
  } finally {
    paint();
    $('write-stop').disabled = true;
    document.body.dataset.generated = String(count);
  }
}

renderShell('write.html');
$('write-temperature').addEventListener('input', () => { $('write-temperature-value').textContent = $('write-temperature').value; });
$('write-stop').addEventListener('click', () => controller?.abort());
try {
  const engine = await startEngine();
  models = modelSlot(engine, $('write-progress'));
  const run = () => runAction($('write-run'), () => generate());
  $('write-run').addEventListener('click', run);
  $('write-prompt').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) run();
  });
  const params = new URLSearchParams(location.search);
  if (params.has('max')) $('write-max').value = params.get('max');
  if (params.has('autorun')) await run();
} catch { /* startEngine showed the error */ }
