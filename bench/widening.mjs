// How lossless is widening? For every shipped language model, widen ×2 and ×3, exactly (the θ table
// duplicated) and approximately (standard RoPE at the wider head), and measure `verify`: the largest
// |Δ logit| against the original over held-out text, absolute and relative to the largest |logit|,
// and bits/char before and after.
//   node --no-experimental-fetch bench/widening.mjs [--chars 500] [--out bench/results/widening.json]
// The text is the first characters of the held-out Austen (models/data/austen_valid.txt, written by
// `python3 models/train/data.py`); it is an accuracy measurement, so one thread is enough.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEngine } from '../web/lib/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    chars: { type: 'string', default: '500' },
    out: { type: 'string', default: 'bench/results/widening.json' },
  },
});
const validation = path.join(root, 'models/data/austen_valid.txt');
if (!fs.existsSync(validation)) throw new Error(`${validation} is missing: run /usr/bin/python3 models/train/data.py first`);
const text = [...fs.readFileSync(validation, 'utf8')].slice(0, Number(values.chars)).join('');

const engine = await createEngine({ threads: false });
const models = fs.readdirSync(path.join(root, 'models'))
  .filter((name) => fs.existsSync(path.join(root, 'models', name, 'config.json')))
  // FLASH has no attention matrix to widen (widen() refuses it with BAD_ARGUMENT), the U-Net is no LM.
  .filter((name) => ['gau-lm', 'roformer-v2'].includes(JSON.parse(fs.readFileSync(path.join(root, 'models', name, 'config.json'), 'utf8')).family));
const rows = [];
for (const name of models) {
  const lm = await engine.loadModel(path.join(root, 'models', name));
  const logits = lm.logits(text);
  const largest = logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  // bits/char over the training length, and over the whole text (beyond it the RoPE angles of an
  // approximate widening rotate more slowly, which acts like position interpolation)
  const short = [...text].slice(0, lm.info.trainLength).join('');
  const bitsPerChar = lm.evaluate(text).bitsPerChar, shortBits = lm.evaluate(short).bitsPerChar;
  for (const k of [2, 3]) {
    for (const exactRope of [true, false]) {
      const wide = lm.widen(k, { exactRope });
      const maxAbs = wide.verify(text);
      const wideBits = wide.evaluate(text).bitsPerChar, wideShortBits = wide.evaluate(short).bitsPerChar;
      wide.dispose();
      rows.push({ model: name, k, mode: exactRope ? 'exact' : 'approximate', maxAbs, relative: maxAbs / largest,
        largestLogit: largest, bitsPerChar, wideBitsPerChar: wideBits,
        trainLength: lm.info.trainLength, bitsPerCharAtTrainLength: shortBits, wideBitsPerCharAtTrainLength: wideShortBits });
      console.log(`${name.padEnd(22)} ×${k} ${(exactRope ? 'exact' : 'approximate').padEnd(11)} max |Δ logit| ${maxAbs.toExponential(2)}  (${(maxAbs / largest).toExponential(2)} of the largest |logit| ${largest.toFixed(1)})  bits/char ${shortBits.toFixed(3)} → ${wideShortBits.toFixed(3)} (first ${lm.info.trainLength}), ${bitsPerChar.toFixed(3)} → ${wideBits.toFixed(3)} (all)`);
    }
  }
  lm.dispose();
}
engine.dispose();
fs.writeFileSync(path.resolve(root, values.out), JSON.stringify({ benchmark: 'widening', date: new Date().toISOString(), chars: text.length, rows }, null, 1));
console.log(`wrote ${values.out}`);
