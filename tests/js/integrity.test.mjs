// Integrity of shipped weights: config.json records the SHA-256 of model.safetensors (written by
// models/train/export.py) and loadModel checks it (opt-out: integrity: false); weights that still
// hash right but hold NaN or infinity are refused by the engine, naming the tensor. (~3 s)
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BadArgumentError, BadModelError, createEngine } from '../../web/lib/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SHIPPED = ['gau-lm-softmax-plus', 'gau-lm-softmax', 'gau-lm-relu2', 'roformer-v2-tiny', 'ddpm-digits'];

const ELEMENT_BYTES = { F32: 4, F16: 2, I8: 1 };

/** { offset in the file of element `index` of tensor `name`, its dtype }. */
function element(bytes, name, index) {
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const { dtype, data_offsets: [begin] } = header[name];
  return { offset: 8 + headerLength + begin + ELEMENT_BYTES[dtype] * index, dtype };
}

/** Writes a non-finite `value` into element `index` of an F32 or F16 tensor (F16 NaN 0x7E00, ±∞ 0x7C00). */
function pokeNonFinite(bytes, name, index, value) {
  const { offset, dtype } = element(bytes, name, index);
  if (dtype === 'F32') bytes.writeFloatLE(value, offset);
  else if (dtype === 'F16') bytes.writeUInt16LE(Number.isNaN(value) ? 0x7e00 : value > 0 ? 0x7c00 : 0xfc00, offset);
  else throw new Error(`${name} is ${dtype}: poke an F32 or F16 tensor`);
}

describe('model integrity', () => {
  let engine;
  let scratch;
  before(async () => {
    engine = await createEngine({ relaxed: false });
    scratch = await mkdtemp(join(tmpdir(), 'gyre-integrity-'));
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  test('every shipped config.json records the SHA-256 of its model.safetensors', async () => {
    for (const name of SHIPPED) {
      const config = JSON.parse(await readFile(join(root, 'models', name, 'config.json'), 'utf8'));
      const bytes = await readFile(join(root, 'models', name, 'model.safetensors'));
      assert.equal(config.weights.sha256, createHash('sha256').update(bytes).digest('hex'), name);
    }
  });

  test('one flipped bit in the weights is BAD_MODEL naming the file; integrity: false loads it', async () => {
    const source = join(root, 'models', 'gau-lm-softmax-plus');
    const bytes = await readFile(join(source, 'model.safetensors'));
    const config = await readFile(join(source, 'config.json'));
    const dir = join(scratch, 'flipped');
    await mkdir(dir, { recursive: true });
    const flipped = Buffer.from(bytes);
    flipped[element(flipped, 'layers.2.o_dense.weight', 100).offset] ^= 0x01;  // lowest bit
    await writeFile(join(dir, 'model.safetensors'), flipped);
    await writeFile(join(dir, 'config.json'), config);
    await assert.rejects(engine.loadModel(dir), (error) => error instanceof BadModelError &&
      error.message.includes(join(dir, 'model.safetensors')) && /SHA-256/.test(error.message));
    await assert.rejects(engine.loadModel({ config: config.toString(), weights: flipped }),
      (error) => error instanceof BadModelError && /weights given as bytes/.test(error.message));
    const loaded = await engine.loadModel(dir, { integrity: false });
    assert.ok(Number.isFinite(loaded.evaluate('It is a truth').meanNll));
    loaded.dispose();
    await assert.rejects(engine.loadModel(dir, { integrity: 'no' }), BadArgumentError);
    const malformed = JSON.parse(config);
    malformed.weights.sha256 = 'abc';
    await assert.rejects(engine.loadModel({ config: malformed, weights: bytes }), BadModelError);
  });

  test('NaN and infinite weights are BAD_MODEL naming the tensor, for both families', async () => {
    // The language models' matrices are int8: a non-finite value can only enter through an F32 row
    // scale, refused naming the matrix and the row.
    for (const [name, poked, tensor, where] of [
      ['gau-lm-softmax', 'layers.1.i_dense.weight.quant_scale', 'layers.1.i_dense.weight', 'row 7'],
      ['ddpm-digits', 'time_table', 'time_table', 'element 7']]) {
      const source = join(root, 'models', name);
      const config = JSON.parse(await readFile(join(source, 'config.json'), 'utf8'));
      delete config.weights.sha256;  // as if the corruption happened before the hash was recorded
      for (const value of [NaN, Infinity]) {
        const weights = Buffer.from(await readFile(join(source, 'model.safetensors')));
        pokeNonFinite(weights, poked, 7, value);
        await assert.rejects(engine.loadModel({ config, weights }), (error) => error instanceof BadModelError &&
          error.message.includes(`'${tensor}'`) && error.message.includes(where), `${name} ${value}`);
      }
    }
    const lm = await engine.loadModel(join(root, 'models', 'gau-lm-softmax'));
    assert.ok(Number.isFinite(lm.evaluate('It is a truth').meanNll));
    lm.dispose();
  });
});
