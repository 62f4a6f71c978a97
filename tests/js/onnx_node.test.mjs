// The ONNX backend node tests (Debian libonnx-testdata, /usr/share/libonnx-testdata/data/node/) for
// every op Gyre's kernels implement, run through the engine's wasm modules (SIMD and scalar) in
// Node: MatMul, Gemm, Softmax, Exp, Sigmoid, Relu, InstanceNormalization, LayerNormalization (Y).
// model.onnx and the .pb tensors are read with the small protobuf decoder below. JS only moves
// data (transposes for a non-last softmax axis or transA, batch offsets); every number is computed
// by a kernel. Tolerances are the ONNX backend's defaults: rtol 1e-3, atol 1e-7.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FLAVOURS } from './flavours.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dataRoot = process.env.GYRE_ONNX_NODE_DATA ?? '/usr/share/libonnx-testdata/data/node';

// ---------------------------------------------------------------------------------------------
// Protobuf wire format: a message is a list of { field, wire, value } (value: BigInt for varints,
// Uint8Array for length-delimited, DataView slices for fixed32/fixed64).

function decodeMessage(bytes) {
  const fields = [];
  let pos = 0;
  const readVarint = () => {
    let result = 0n, shift = 0n;
    for (;;) {
      const byte = bytes[pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return result;
      shift += 7n;
    }
  };
  while (pos < bytes.length) {
    const key = Number(readVarint());
    const field = key >>> 3, wire = key & 7;
    if (wire === 0) fields.push({ field, wire, value: readVarint() });
    else if (wire === 1) { fields.push({ field, wire, value: bytes.subarray(pos, pos + 8) }); pos += 8; }
    else if (wire === 2) {
      const length = Number(readVarint());
      fields.push({ field, wire, value: bytes.subarray(pos, pos + length) });
      pos += length;
    } else if (wire === 5) { fields.push({ field, wire, value: bytes.subarray(pos, pos + 4) }); pos += 4; }
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return fields;
}

const text = (bytes) => new TextDecoder().decode(bytes);
const signed64 = (v) => Number(BigInt.asIntN(64, v));

function packedVarints(entry) {  // repeated int64: packed (wire 2) or one per field (wire 0)
  if (entry.wire === 0) return [signed64(entry.value)];
  const out = [];
  for (const f of decodeMessage(concatKey(entry.value))) out.push(signed64(f.value));
  return out;
}
// Reads a packed varint run by prefixing each value with a synthetic key (field 1, wire 0).
function concatKey(bytes) {
  const out = [];
  let start = 0;
  for (let i = 0; i < bytes.length; ++i) {
    if (!(bytes[i] & 0x80)) {
      out.push(0x08, ...bytes.subarray(start, i + 1));
      start = i + 1;
    }
  }
  return Uint8Array.from(out);
}

const FLOAT = 1;

// TensorProto: dims 1, data_type 2, float_data 4, name 8, raw_data 9.
function decodeTensor(bytes) {
  const dims = [];
  let type = 0, raw = null, floats = [];
  for (const f of decodeMessage(bytes)) {
    if (f.field === 1) dims.push(...packedVarints(f));
    else if (f.field === 2) type = Number(f.value);
    else if (f.field === 9) raw = f.value;
    else if (f.field === 4) {
      if (f.wire === 5) floats.push(new DataView(f.value.buffer, f.value.byteOffset, 4).getFloat32(0, true));
      else for (let i = 0; i < f.value.length; i += 4) floats.push(new DataView(f.value.buffer, f.value.byteOffset + i, 4).getFloat32(0, true));
    }
  }
  if (type !== FLOAT) throw new Error(`tensor type ${type} is not float`);
  const count = dims.reduce((a, b) => a * b, 1);
  let data;
  if (raw) {
    data = new Float32Array(count);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; ++i) data[i] = view.getFloat32(4 * i, true);
  } else {
    data = Float32Array.from(floats);
  }
  assert.equal(data.length, count, 'tensor element count');
  return { dims, data };
}

// The model's single node: ModelProto.graph 7 -> GraphProto.node 1 -> NodeProto (input 1,
// output 2, op_type 4, attribute 5 = AttributeProto name 1, f 2, i 3).
function decodeSingleNode(bytes) {
  const graph = decodeMessage(bytes).find((f) => f.field === 7).value;
  const nodes = decodeMessage(graph).filter((f) => f.field === 1);
  assert.equal(nodes.length, 1, 'a single-node model');
  const node = { inputs: [], outputs: [], op: '', attributes: {} };
  for (const f of decodeMessage(nodes[0].value)) {
    if (f.field === 1) node.inputs.push(text(f.value));
    else if (f.field === 2) node.outputs.push(text(f.value));
    else if (f.field === 4) node.op = text(f.value);
    else if (f.field === 5) {
      let name = '', value;
      for (const a of decodeMessage(f.value)) {
        if (a.field === 1) name = text(a.value);
        else if (a.field === 2) value = new DataView(a.value.buffer, a.value.byteOffset, 4).getFloat32(0, true);
        else if (a.field === 3) value = signed64(a.value);
      }
      node.attributes[name] = value;
    }
  }
  return node;
}

// ---------------------------------------------------------------------------------------------
// The engine: a tiny heap helper around the Embind kernel functions.

async function loadFlavour(flavour) {
  const dir = path.join(root, 'web/lib/wasm');
  const jsFile = path.join(dir, `gyre-${flavour}.js`);
  assert.ok(fs.existsSync(jsFile), `${jsFile} is missing: run \`npm run build\` first`);
  const factory = (await import(pathToFileURL(jsFile).href)).default;
  return factory({ wasmBinary: fs.readFileSync(path.join(dir, `gyre-${flavour}.wasm`)) });
}

class Heap {
  constructor(module) { this.m = module; this.blocks = []; }
  put(data) {
    const p = this.alloc(data.length);
    this.m.HEAPF32.set(data, p / 4);
    return p;
  }
  alloc(count) {
    const p = this.m._malloc(Math.max(1, count) * 4);
    assert.ok(p, 'wasm malloc failed');
    this.blocks.push(p);
    return p;
  }
  get(p, count) { return Float32Array.from(this.m.HEAPF32.subarray(p / 4, p / 4 + count)); }
  free() { for (const p of this.blocks) this.m._free(p); this.blocks = []; }
}

// A raw binding's { ok, value | code, message } (engine/bindings/js_result.h).
const ok = (result) => assert.ok(result.ok, `${result.code}: ${result.message}`);
const product = (dims) => dims.reduce((a, b) => a * b, 1);

// Moves `axis` of a row-major tensor to the end (or back, with inverse = true).
function moveAxisLast(data, dims, axis, inverse = false) {
  const outer = product(dims.slice(0, axis)), size = dims[axis], inner = product(dims.slice(axis + 1));
  const out = new Float32Array(data.length);
  for (let o = 0; o < outer; ++o)
    for (let a = 0; a < size; ++a)
      for (let i = 0; i < inner; ++i) {
        const standard = (o * size + a) * inner + i, moved = (o * inner + i) * size + a;
        if (inverse) out[standard] = data[moved];
        else out[moved] = data[standard];
      }
  return out;
}

function transpose2d(data, rows, cols) {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; ++r) for (let c = 0; c < cols; ++c) out[c * rows + r] = data[r * cols + c];
  return out;
}

// Every op returns the first output as a Float32Array.
const ops = {
  Exp: (m, h, [x]) => unary(m, h, x, 'kernelExp'),
  Sigmoid: (m, h, [x]) => unary(m, h, x, 'kernelSigmoid'),
  Relu: (m, h, [x]) => unary(m, h, x, 'kernelRelu'),

  Softmax(m, h, [x], attributes) {
    const rank = x.dims.length;
    const axis = ((attributes.axis ?? -1) + rank) % rank;
    const cols = x.dims[axis], rows = x.data.length / cols;
    const moved = axis === rank - 1 ? x.data : moveAxisLast(x.data, x.dims, axis);
    const p = h.put(moved), y = h.alloc(moved.length);
    ok(m.kernelSoftmaxRows(p, y, rows, cols, cols));
    const out = h.get(y, moved.length);
    return axis === rank - 1 ? out : moveAxisLast(out, x.dims, axis, true);
  },

  MatMul(m, h, [a, b]) {
    const [M, K] = a.dims.slice(-2), N = b.dims.at(-1);
    const batchA = a.dims.slice(0, -2), batchB = b.dims.slice(0, -2);
    const batch = batchA.length >= batchB.length ? batchA : batchB;
    const count = product(batch);
    const pa = h.put(a.data), pb = h.put(b.data), pc = h.alloc(count * M * N);
    for (let i = 0; i < count; ++i) {
      // Same-shaped or broadcast (size-1) batches, as the test models use.
      const ia = product(batchA) === 1 ? 0 : i, ib = product(batchB) === 1 ? 0 : i;
      ok(m.kernelGemm(M, N, K, pa + ia * M * K * 4, K, pb + ib * K * N * 4, N, pc + i * M * N * 4, N, 0, 0));
    }
    return h.get(pc, count * M * N);
  },

  Gemm(m, h, [a, b, c], attributes) {
    const transA = attributes.transA ?? 0, transB = attributes.transB ?? 0;
    const alpha = attributes.alpha ?? 1, beta = attributes.beta ?? 1;
    const M = transA ? a.dims[1] : a.dims[0], K = transA ? a.dims[0] : a.dims[1];
    const N = transB ? b.dims[0] : b.dims[1];
    const pa = h.put(transA ? transpose2d(a.data, a.dims[0], a.dims[1]) : a.data);
    const pb = h.put(b.data), y = h.alloc(M * N);
    // A vector bias of N entries goes into the fused epilogue; any other C shape is broadcast
    // and added with the vector kernels, as are alpha and beta.
    const fusedBias = c && beta === 1 && alpha === 1 && c.data.length === N && c.dims.at(-1) === N;
    const pbias = fusedBias ? h.put(c.data) : 0;
    ok((transB ? m.kernelGemmNt : m.kernelGemm)(M, N, K, pa, K, pb, transB ? K : N, y, N, pbias, 0));
    if (alpha !== 1) ok(m.kernelMul(y, h.put(new Float32Array(M * N).fill(alpha)), y, M * N));
    if (c && !fusedBias) {
      const broadcast = new Float32Array(M * N);
      const [rows, cols] = c.dims.length === 2 ? c.dims : c.dims.length === 1 ? [1, c.dims[0]] : [1, 1];
      for (let i = 0; i < M; ++i)
        for (let j = 0; j < N; ++j) broadcast[i * N + j] = c.data[(rows === 1 ? 0 : i) * cols + (cols === 1 ? 0 : j)];
      const pc = h.put(broadcast);
      if (beta !== 1) ok(m.kernelMul(pc, h.put(new Float32Array(M * N).fill(beta)), pc, M * N));
      ok(m.kernelAdd(y, pc, y, M * N));
    }
    return h.get(y, M * N);
  },

  InstanceNormalization(m, h, [x, scale, bias], attributes) {
    const [batch, channels] = x.dims, pixels = product(x.dims.slice(2));
    const px = h.put(x.data), py = h.alloc(x.data.length), ps = h.put(scale.data), pb = h.put(bias.data);
    for (let n = 0; n < batch; ++n) {
      const offset = n * channels * pixels * 4;
      ok(m.kernelGroupNorm(px + offset, py + offset, channels, pixels, channels, ps, pb, attributes.epsilon ?? 1e-5, false));
    }
    return h.get(py, x.data.length);
  },

  LayerNormalization(m, h, [x, scale, bias], attributes) {
    const rank = x.dims.length;
    const axis = ((attributes.axis ?? -1) + rank) % rank;
    const cols = product(x.dims.slice(axis)), rows = x.data.length / cols;
    const px = h.put(x.data), py = h.alloc(x.data.length);
    ok(m.kernelLayerNorm(px, py, rows, cols, cols, h.put(scale.data), bias ? h.put(bias.data) : 0, attributes.epsilon ?? 1e-5));
    return h.get(py, x.data.length);
  },
};

function unary(m, h, x, fn) {
  const p = h.put(x.data), y = h.alloc(x.data.length);
  ok(m[fn](p, y, x.data.length));
  return h.get(y, x.data.length);
}

// ---------------------------------------------------------------------------------------------

const prefixes = ['test_matmul_', 'test_gemm_', 'test_softmax_', 'test_exp', 'test_sigmoid', 'test_relu',
  'test_instancenorm_', 'test_layer_normalization_'];
const cases = fs.existsSync(dataRoot)
  ? fs.readdirSync(dataRoot).filter((name) => prefixes.some((p) => name.startsWith(p)) &&
      !name.endsWith('_expanded') && !name.startsWith('test_matmulinteger') && !name.startsWith('test_expand')).sort()
  : [];

test('ONNX node test data is installed (Debian libonnx-testdata)', () => {
  assert.ok(fs.existsSync(dataRoot), `${dataRoot} is missing: apt-get install libonnx-testdata (scripts/setup.sh does)`);
  assert.ok(cases.length >= 45, `found only ${cases.length} node tests (expected the 47 of ONNX 1.12)`);
});

for (const flavour of FLAVOURS) {
  test(`ONNX backend node tests through gyre-${flavour}`, async (t) => {
    const module = await loadFlavour(flavour);
    for (const name of cases) {
      await t.test(name, () => {
        const dir = path.join(dataRoot, name);
        const node = decodeSingleNode(fs.readFileSync(path.join(dir, 'model.onnx')));
        const run = ops[node.op];
        assert.ok(run, `no kernel for op ${node.op}`);
        for (const set of fs.readdirSync(dir).filter((d) => d.startsWith('test_data_set_'))) {
          const read = (file) => decodeTensor(fs.readFileSync(path.join(dir, set, file)));
          const inputs = node.inputs.map((input, i) => (input === '' ? undefined : read(`input_${i}.pb`)));
          const want = read('output_0.pb');
          const heap = new Heap(module);
          let got;
          try {
            got = run(module, heap, inputs, node.attributes);
          } finally {
            heap.free();
          }
          assert.equal(got.length, want.data.length, `${set}: output size`);
          for (let i = 0; i < got.length; ++i) {
            const tolerance = 1e-7 + 1e-3 * Math.abs(want.data[i]);
            if (!(Math.abs(got[i] - want.data[i]) <= tolerance)) {
              assert.fail(`${set}: output[${i}] = ${got[i]}, want ${want.data[i]} (${node.op} ${JSON.stringify(node.attributes)})`);
            }
          }
        }
      });
    }
  });
}
