// A minimal ONNX model writer (protobuf wire format by hand) so the benchmark can hand
// onnxruntime-web small in-memory graphs (MatMul with a constant B, Exp, SiLU, Softmax) without a
// Python step. Field numbers follow onnx.proto (ModelProto, GraphProto, NodeProto, ...).

function varint(value) {
  const bytes = [];
  let v = BigInt.asUintN(64, BigInt(value));  // negative int64: ten bytes, two's complement
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (v !== 0n);
  return bytes;
}

const key = (field, wireType) => varint((field << 3) | wireType);

function concat(parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

const intField = (field, value) => Uint8Array.from([...key(field, 0), ...varint(value)]);
const bytesField = (field, bytes) => concat([Uint8Array.from([...key(field, 2), ...varint(bytes.length)]), bytes]);
const stringField = (field, text) => bytesField(field, new TextEncoder().encode(text));

const FLOAT = 1;

function valueInfo(name, shape) {
  const dims = shape.map((d) => bytesField(1, intField(1, d)));
  const tensorType = concat([intField(1, FLOAT), bytesField(2, concat(dims))]);
  return concat([stringField(1, name), bytesField(2, bytesField(1, tensorType))]);
}

function tensor(name, shape, data) {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return concat([...shape.map((d) => intField(1, d)), intField(2, FLOAT), stringField(8, name), bytesField(9, raw)]);
}

function node(opType, inputs, outputs, intAttributes = {}) {
  const attributes = Object.entries(intAttributes).map(([name, value]) =>
    bytesField(5, concat([stringField(1, name), intField(3, value), intField(20, 2 /* INT */)])));
  return concat([...inputs.map((i) => stringField(1, i)), ...outputs.map((o) => stringField(2, o)),
    stringField(4, opType), ...attributes]);
}

/**
 * @param {{nodes: Uint8Array[], inputs: [string, number[]][], outputs: [string, number[]][],
 *          initializers?: [string, number[], Float32Array][]}} graph
 * @returns {Uint8Array} a serialized ModelProto (IR 8, opset 17)
 */
export function buildModel({ nodes, inputs, outputs, initializers = [] }) {
  const graph = concat([
    ...nodes.map((n) => bytesField(1, n)),
    stringField(2, 'gyre_bench'),
    ...initializers.map(([name, shape, data]) => bytesField(5, tensor(name, shape, data))),
    ...inputs.map(([name, shape]) => bytesField(11, valueInfo(name, shape))),
    ...outputs.map(([name, shape]) => bytesField(12, valueInfo(name, shape))),
  ]);
  const opset = concat([stringField(1, ''), intField(2, 17)]);
  return concat([intField(1, 8), stringField(2, 'gyre'), bytesField(7, graph), bytesField(8, opset)]);
}

export const onnxNode = node;
