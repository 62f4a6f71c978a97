// The JS loader: flavour selection, features, wasm location overrides, and its typed errors.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  BadArgumentError, ERROR_CODES, GyreError, NetworkError, NotFoundError, NotWasmError,
  TooLargeError, UnsupportedError, createEngine, defaultWasmUrl, errorFromCode, relaxedSimdSupported,
  simdSupported,
} from '../../web/lib/index.js';

const simdWasmPath = fileURLToPath(defaultWasmUrl('simd'));
let scratch;
let server;
let serverUrl;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'gyre-js-'));
  const wasm = await readFile(simdWasmPath);
  // A server like the ones users deploy to: the wasm, a 404, an SPA fallback page, a broken backend.
  server = createServer((request, response) => {
    if (request.url === '/gyre-simd.wasm') {
      response.writeHead(200, { 'Content-Type': 'application/wasm' });
      response.end(wasm);
    } else if (request.url === '/missing.wasm') {
      response.writeHead(404, { 'Content-Type': 'text/plain' });
      response.end('not found');
    } else if (request.url === '/broken.wasm') {
      response.writeHead(500);
      response.end('oops');
    } else {
      response.writeHead(200, { 'Content-Type': 'text/html' });
      response.end('<!DOCTYPE html><html><body>app shell</body></html>');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(scratch, { recursive: true, force: true });
});

describe('createEngine', () => {
  test('auto picks relaxed SIMD where Node runs it (npm test passes the flag), else SIMD128, threaded', async () => {
    assert.equal(simdSupported(), true);
    const engine = await createEngine();
    assert.equal(engine.features.simd, true);
    const cores = Math.min(availableParallelism(), 8);
    assert.equal(engine.features.threads, cores);
    assert.equal(engine.features.flavour,
      (relaxedSimdSupported() ? 'relaxed' : 'simd') + (cores > 1 ? '-threads' : ''));
    engine.dispose();
    const single = await createEngine({ threads: false });
    assert.equal(single.features.threads, 1);
    assert.equal(single.features.flavour, relaxedSimdSupported() ? 'relaxed' : 'simd');
    assert.match(engine.features.version, /^\d+\.\d+\.\d+$/);
    assert.equal(engine.features.heapMaxBytes, 2 ** 31);
    assert.ok(Object.isFrozen(engine.features));
  });

  test('relaxed: false loads SIMD128, relaxed: true the relaxed binary or an UnsupportedError', async () => {
    const simd = await createEngine({ relaxed: false, threads: false });
    assert.equal(simd.features.flavour, 'simd');
    if (relaxedSimdSupported()) {
      const relaxed = await createEngine({ relaxed: true, threads: false });
      assert.equal(relaxed.features.flavour, 'relaxed');
      assert.match(relaxed.wasmUrl, /gyre-relaxed\.wasm$/);
      // A fixed URL names one module: auto keeps to the SIMD128 glue it belongs to.
      assert.equal((await createEngine({ wasmUrl: simdWasmPath })).features.flavour, 'simd');
    } else {
      await assert.rejects(createEngine({ relaxed: true }), UnsupportedError);
    }
    await assert.rejects(createEngine({ relaxed: 'yes' }), BadArgumentError);
  });

  test('simd: false loads the scalar binary, simd: true the SIMD one', async () => {
    const scalar = await createEngine({ simd: false });
    assert.equal(scalar.features.simd, false);
    assert.equal(scalar.features.flavour, 'scalar');
    assert.match(scalar.wasmUrl, /gyre-scalar\.wasm$/);
    const simd = await createEngine({ simd: true });
    assert.equal(simd.features.simd, true);
  });

  test('wasmUrl accepts a path, a file: URL, a {flavour} template, a function and an object', async () => {
    for (const wasmUrl of [
      simdWasmPath,
      pathToFileURL(simdWasmPath),
      simdWasmPath.replace('gyre-simd', 'gyre-{flavour}'),
      (flavour) => simdWasmPath.replace('simd', flavour),
      { simd: simdWasmPath, scalar: 'unused' },
    ]) {
      const engine = await createEngine({ wasmUrl });
      assert.equal(engine.features.simd, true, String(wasmUrl));
    }
  });

  test('loads over http with progress', async () => {
    const progress = [];
    const engine = await createEngine({
      wasmUrl: `${serverUrl}/gyre-simd.wasm`,
      onProgress: (event) => progress.push(event),
    });
    assert.equal(engine.features.simd, true);
    assert.ok(progress.length >= 1);
    const last = progress.at(-1);
    assert.equal(last.loaded, last.total);
    assert.ok(last.loaded > 1000);
  });

  test('a missing file is NOT_FOUND naming the path', async () => {
    const path = join(scratch, 'nope', 'gyre-simd.wasm');
    await assert.rejects(createEngine({ wasmUrl: path }), (error) => {
      assert.ok(error instanceof NotFoundError);
      assert.ok(error instanceof GyreError);
      assert.equal(error.code, 'NOT_FOUND');
      assert.ok(error.message.includes(path), error.message);
      assert.equal(error.url, path);
      return true;
    });
  });

  test('an HTTP 404 is NOT_FOUND naming the URL', async () => {
    const url = `${serverUrl}/missing.wasm`;
    await assert.rejects(createEngine({ wasmUrl: url }), (error) => {
      assert.ok(error instanceof NotFoundError);
      assert.match(error.message, /missing\.wasm returned HTTP 404/);
      assert.equal(error.url, url);
      return true;
    });
  });

  test('an HTML page served in place of the wasm is NOT_WASM naming the URL', async () => {
    const url = `${serverUrl}/app/gyre-simd.wasm`;
    await assert.rejects(createEngine({ wasmUrl: url }), (error) => {
      assert.ok(error instanceof NotWasmError);
      assert.equal(error.code, 'NOT_WASM');
      assert.ok(error.message.startsWith(`${url} returned an HTML page`), error.message);
      assert.match(error.message, /3c 21 44 4f/);
      return true;
    });
    // The same page from disk, without a content type to go by.
    const path = join(scratch, 'index.wasm');
    await writeFile(path, '\n  <html><body>404</body></html>');
    await assert.rejects(createEngine({ wasmUrl: path }), /returned an HTML page/);
  });

  test('other bytes, an empty file and a truncated module are NOT_WASM', async () => {
    const junk = join(scratch, 'junk.wasm');
    await writeFile(junk, Buffer.from([1, 2, 3, 4, 5]));
    await assert.rejects(createEngine({ wasmUrl: junk }),
      (error) => error instanceof NotWasmError && /01 02 03 04/.test(error.message));
    const empty = join(scratch, 'empty.wasm');
    await writeFile(empty, '');
    await assert.rejects(createEngine({ wasmUrl: empty }), NotWasmError);
    const truncated = join(scratch, 'truncated.wasm');
    await writeFile(truncated, (await readFile(simdWasmPath)).subarray(0, 5000));
    await assert.rejects(createEngine({ wasmUrl: truncated }),
      (error) => error instanceof NotWasmError && error.message.includes(truncated));
  });

  test('a server error is NETWORK, a refused connection too', async () => {
    await assert.rejects(createEngine({ wasmUrl: `${serverUrl}/broken.wasm` }),
      (error) => error instanceof NetworkError && /HTTP 500/.test(error.message));
    await assert.rejects(createEngine({ wasmUrl: 'http://127.0.0.1:9/gyre.wasm' }), NetworkError);
  });

  test('bad options are BAD_ARGUMENT', async () => {
    await assert.rejects(createEngine({ simd: 'yes' }), BadArgumentError);
    await assert.rejects(createEngine({ wasmUrl: 42 }), BadArgumentError);
  });

  test('an aborted signal cancels with ABORTED', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(createEngine({ signal: controller.signal }), (error) => error.code === 'ABORTED');
  });
});

describe('errors', () => {
  test('every code maps to a GyreError subclass with that code', () => {
    for (const code of ['BAD_MODEL', 'UNSUPPORTED_DTYPE', 'TOO_LARGE', 'OUT_OF_MEMORY', 'NOT_WASM',
      'NOT_FOUND', 'BAD_ARGUMENT', 'ABORTED']) {
      assert.ok(ERROR_CODES.includes(code), code);
    }
    for (const code of ERROR_CODES) {
      const error = errorFromCode(code, 'message');
      assert.ok(error instanceof GyreError);
      assert.ok(error instanceof Error);
      assert.equal(error.code, code);
      assert.notEqual(error.name, 'GyreError');
      assert.equal(error.message, 'message');
    }
    assert.equal(errorFromCode('WHAT', 'x').code, 'INTERNAL');
  });
});

describe('rope', () => {
  // Double-precision reference of the interleaved rotation.
  function ropeReference(x, headDim, position, base = 10000) {
    const out = new Float64Array(x.length);
    for (let row = 0; row < x.length / headDim; row++) {
      for (let i = 0; i < headDim / 2; i++) {
        const angle = (position + row) * base ** (-2 * i / headDim);
        const a = x[row * headDim + 2 * i];
        const b = x[row * headDim + 2 * i + 1];
        out[row * headDim + 2 * i] = a * Math.cos(angle) - b * Math.sin(angle);
        out[row * headDim + 2 * i + 1] = a * Math.sin(angle) + b * Math.cos(angle);
      }
    }
    return out;
  }

  for (const simd of [true, false]) {
    test(`matches the reference and depends only on m - n (${simd ? 'SIMD' : 'scalar'})`, async () => {
      const engine = await createEngine({ simd });
      const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.7));
      const rotated = engine.rope(x, { headDim: 16, position: 5 });
      const expected = ropeReference(x, 16, 5);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(rotated[i] - expected[i]) < 1e-5, `${i}`);
      assert.deepEqual(x, Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.7)), 'input untouched');

      const q = x.subarray(0, 16);
      const k = x.subarray(16, 32);
      const score = (m, n) => {
        const a = engine.rope(q, { headDim: 16, position: m });
        const b = engine.rope(k, { headDim: 16, position: n });
        return a.reduce((sum, value, i) => sum + value * b[i], 0);
      };
      assert.ok(Math.abs(score(9, 2) - score(509, 502)) < 1e-4);
      const half = engine.rope(q, { headDim: 16, position: 3, layout: 'half-split' });
      assert.equal(half.length, 16);
    });
  }

  test('bad arguments are typed errors and the engine stays usable', async () => {
    const engine = await createEngine();
    const x = new Float32Array(8);
    assert.throws(() => engine.rope([1, 2]), BadArgumentError);
    assert.throws(() => engine.rope(x, { headDim: 3 }), /headDim must be even/);
    assert.throws(() => engine.rope(x, { headDim: 16 }), /not a non-zero multiple/);
    assert.throws(() => engine.rope(x, { headDim: 8, position: -1 }), BadArgumentError);
    assert.throws(() => engine.rope(x, { headDim: 8, position: 1.5 }), BadArgumentError);
    assert.throws(() => engine.rope(x, { headDim: 8, base: NaN }), BadArgumentError);
    assert.throws(() => engine.rope(x, { headDim: 8, layout: 'diagonal' }), BadArgumentError);
    assert.throws(() => engine.rope(new Float32Array(4096), { headDim: 4096, position: 20000 }),
      (error) => error instanceof TooLargeError && error.code === 'TOO_LARGE');
    assert.equal(engine.rope(x, { headDim: 8, position: 2 }).length, 8);
  });
});
