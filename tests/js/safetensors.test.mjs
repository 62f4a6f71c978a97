// engine.loadSafetensors in both wasm flavours: valid files, and files that lie (typed errors,
// and the engine stays usable after each).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BadArgumentError, BadModelError, NotFoundError, TooLargeError, UnsupportedDtypeError, createEngine,
} from '../../web/lib/index.js';
import { safetensorsBytes, validFile } from './safetensors-writer.mjs';

let scratch;
before(async () => { scratch = await mkdtemp(join(tmpdir(), 'gyre-st-')); });
after(async () => { await rm(scratch, { recursive: true, force: true }); });

async function expectValid(engine) {
  const { tensors } = await engine.loadSafetensors(validFile());
  assert.deepEqual(Array.from(tensors.get('weight').data), [1.5, -2, 3.25, 0, 7, 8]);
}

for (const simd of [true, false]) {
  describe(`loadSafetensors (${simd ? 'SIMD' : 'scalar'} build)`, () => {
    let engine;
    before(async () => { engine = await createEngine({ simd }); });

    test('reads F32, F16 and BF16 as Float32Array with shapes, dtypes and metadata', async () => {
      const { tensors, metadata } = await engine.loadSafetensors(validFile());
      assert.deepEqual([...tensors.keys()], ['weight', 'half', 'brain', 'bias']);
      assert.deepEqual(metadata, { format: 'pt' });
      const weight = tensors.get('weight');
      assert.deepEqual(weight.shape, [2, 3]);
      assert.equal(weight.dtype, 'F32');
      assert.ok(weight.data instanceof Float32Array);
      assert.deepEqual(Array.from(tensors.get('half').data), [1, -2]);
      assert.deepEqual(Array.from(tensors.get('brain').data), [1, -3.140625]);
      assert.deepEqual(tensors.get('bias').shape, []);
      assert.deepEqual(Array.from(tensors.get('bias').data), [0.5]);
    });

    test('reads I8 with per-row scales as float32(q) * scale[row]; a bad scale is BAD_MODEL naming the tensor', async () => {
      const int8File = (scales) => {
        const data = new Uint8Array(4 + 4 * scales.length);
        new Int8Array(data.buffer, 0, 4).set([127, -3, 0, -127]);
        scales.forEach((scale, i) => new DataView(data.buffer).setFloat32(4 + 4 * i, scale, true));
        return safetensorsBytes({
          w: { dtype: 'I8', shape: [2, 2], data_offsets: [0, 4] },
          'w.quant_scale': { dtype: 'F32', shape: [scales.length], data_offsets: [4, 4 + 4 * scales.length] },
        }, data);
      };
      const scales = [0.0123, 1 / 127];
      const { tensors } = await engine.loadSafetensors(int8File(scales));
      const w = tensors.get('w');
      assert.equal(w.dtype, 'I8');
      assert.deepEqual(w.shape, [2, 2]);
      const f = Math.fround;
      assert.deepEqual(Array.from(w.data), [f(127 * f(scales[0])), f(-3 * f(scales[0])), 0, f(-127 * f(scales[1]))]);
      await assert.rejects(engine.loadSafetensors(int8File([1, -1])),
        (error) => error instanceof BadModelError && /'w'.*row 1/.test(error.message));
      await assert.rejects(engine.loadSafetensors(int8File([1])),
        (error) => error instanceof BadModelError && /'w'.*must be F32 \[2\]/.test(error.message));
      await expectValid(engine);
    });

    test('accepts ArrayBuffer, typed-array views, paths and file: URLs', async () => {
      const bytes = validFile();
      const offset = new Uint8Array(bytes.length + 3);
      offset.set(bytes, 3);
      for (const source of [bytes.buffer, new DataView(offset.buffer, 3, bytes.length)]) {
        const { tensors } = await engine.loadSafetensors(source);
        assert.equal(tensors.size, 4);
      }
      const path = join(scratch, 'model.safetensors');
      await writeFile(path, bytes);
      assert.equal((await engine.loadSafetensors(path)).tensors.size, 4);
      await assert.rejects(engine.loadSafetensors(join(scratch, 'missing.safetensors')), NotFoundError);
      await assert.rejects(engine.loadSafetensors(42), BadArgumentError);
    });

    const lies = {
      'header length 2^60': [safetensorsBytes('{}', new Uint8Array(4), { headerLength: 2 ** 60 }),
        /header length 1152921504606846976 exceeds/],
      'header length 2^64 - 1': [safetensorsBytes('{}', new Uint8Array(4), { headerLength: 2n ** 64n - 1n }),
        /exceeds/],
      'not JSON': [safetensorsBytes('{not json', new Uint8Array(0)), /not valid JSON/],
      'an HTML page': [safetensorsBytes('<!DOCTYPE html>', new Uint8Array(0)), /JSON object/],
      'offsets past the end': [safetensorsBytes({ wq: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } },
        new Uint8Array(8)), /tensor 'wq': data_offsets \[0, 16\] end past the data section \(8 bytes\)/],
      'overlapping tensors': [safetensorsBytes({
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      }, new Uint8Array(12)), /tensors 'a' and 'b' overlap/],
      'shape and byte count disagreeing': [safetensorsBytes(
        { wk: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(20)),
      /tensor 'wk': shape \[2, 3\] of F32 needs 24 bytes but data_offsets \[0, 20\] hold 20/],
      'a wrong dtype string': [safetensorsBytes({ wv: { dtype: 'FP32', shape: [1], data_offsets: [0, 4] } },
        new Uint8Array(4)), /tensor 'wv': unknown dtype 'FP32'/],
      'an overflowing shape': [safetensorsBytes('{"wo":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}',
        new Uint8Array(4)), /tensor 'wo': shape \[4294967296, 4294967296\] overflows/],
    };
    for (const [name, [bytes, message]] of Object.entries(lies)) {
      test(`${name}: BadModelError, then the engine still loads a valid file`, async () => {
        await assert.rejects(engine.loadSafetensors(bytes), (error) => {
          assert.ok(error instanceof BadModelError, `${error.name}: ${error.message}`);
          assert.equal(error.code, 'BAD_MODEL');
          assert.match(error.message, message);
          return true;
        });
        await expectValid(engine);
      });
    }

    test('truncated at every byte: BadModelError each time, never a crash', async () => {
      const whole = validFile();
      for (let length = 0; length < whole.length; length++) {
        await assert.rejects(engine.loadSafetensors(whole.subarray(0, length)), BadModelError,
          `truncated to ${length} bytes`);
      }
      await expectValid(engine);
    });

    test('a tensor type the engine does not convert is UNSUPPORTED_DTYPE naming the tensor', async () => {
      const bytes = safetensorsBytes({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16));
      await assert.rejects(engine.loadSafetensors(bytes), (error) =>
        error instanceof UnsupportedDtypeError && /'ids' is I64/.test(error.message));
      await expectValid(engine);
    });

    test('an HTML page fetched in place of a model is BAD_MODEL naming the path', async () => {
      const path = join(scratch, 'page.safetensors');
      await writeFile(path, '<!DOCTYPE html><html></html>');
      await assert.rejects(engine.loadSafetensors(path), (error) =>
        error instanceof BadModelError && error.message.startsWith(`${path} returned an HTML page`));
    });

    test('a file larger than the wasm heap can hold is TOO_LARGE before anything is copied', async () => {
      // Zero pages: the 2 GiB array costs address space, not memory, since it is never written.
      const huge = new Uint8Array(2 ** 31 + 8);
      await assert.rejects(engine.loadSafetensors(huge), (error) =>
        error instanceof TooLargeError && /2\.00 GiB \(2147483656 bytes\), more than the 2\.00 GiB/.test(error.message));
      await expectValid(engine);
    });

    test('a hundred failed loads of a 4 MiB file leak no heap', async () => {
      const lying = safetensorsBytes({
        a: { dtype: 'F32', shape: [1 << 20], data_offsets: [0, 4 << 20] },
        b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      }, new Uint8Array(4 << 20));
      await assert.rejects(engine.loadSafetensors(lying), /overlap/);
      const heapBefore = engine.heapBytes;
      for (let i = 0; i < 100; i++) await assert.rejects(engine.loadSafetensors(lying), BadModelError);
      await expectValid(engine);
      assert.equal(engine.heapBytes, heapBefore, 'a leak of 4 MiB per load would have grown the heap');
    });
  });
}
