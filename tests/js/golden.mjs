// What the model suites (models.test.mjs, flash-lm.test.mjs) share: reading golden files, draining a
// generation stream and checking greedy generation.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

/** A golden safetensors file as a Map of name → Float32Array, or number[] for the I64 tensors (ids,
 * positions) that the engine's loader refuses. */
export async function readGolden(path) {
  const bytes = await readFile(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const data = bytes.subarray(8 + headerLength);
  const tensors = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = info.data_offsets;
    const slice = data.buffer.slice(data.byteOffset + begin, data.byteOffset + end);
    tensors.set(name, info.dtype === 'I64' ? Array.from(new BigInt64Array(slice), Number) : new Float32Array(slice));
  }
  return tensors;
}

/** The text of a generate() stream. */
export async function collect(iterator) {
  let text = '';
  for await (const piece of iterator) text += piece;
  return text;
}

/** Asserts that `text`, generated greedily after `prompt`, is the argmax of the full-pass logits at
 * every step (each step re-run from scratch over the prompt and the characters so far). */
export function assertGreedy(lm, prompt, text) {
  const ids = [...lm.encode(prompt)];
  for (const piece of text) {
    const logits = lm.logits(Int32Array.from(ids));
    const row = logits.subarray((ids.length - 1) * lm.info.vocabSize);
    const best = row.indexOf(Math.max(...row));
    assert.equal(lm.vocab[best], piece);
    ids.push(best);
  }
}
