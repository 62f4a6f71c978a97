// Builds safetensors files in memory for tests, including files that lie.

/** A file from a header object or string and a data section; `headerLength` overrides the field. */
export function safetensorsBytes(header, data = new Uint8Array(0), { headerLength } = {}) {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const headerBytes = new TextEncoder().encode(text);
  const file = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(file.buffer).setBigUint64(0, BigInt(headerLength ?? headerBytes.length), true);
  file.set(headerBytes, 8);
  file.set(data, 8 + headerBytes.length);
  return file;
}

/** A valid file with F32, F16 and BF16 tensors and metadata. */
export function validFile() {
  const data = new Uint8Array(36);
  const view = new DataView(data.buffer);
  [1.5, -2, 3.25, 0, 7, 8].forEach((value, i) => view.setFloat32(4 * i, value, true));
  view.setUint16(24, 0x3c00, true);  // F16 1.0
  view.setUint16(26, 0xc000, true);  // F16 -2.0
  view.setUint16(28, 0x3f80, true);  // BF16 1.0
  view.setUint16(30, 0xc049, true);  // BF16 -3.140625
  view.setFloat32(32, 0.5, true);
  return safetensorsBytes({
    __metadata__: { format: 'pt' },
    weight: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
    half: { dtype: 'F16', shape: [2], data_offsets: [24, 28] },
    brain: { dtype: 'BF16', shape: [2], data_offsets: [28, 32] },
    bias: { dtype: 'F32', shape: [], data_offsets: [32, 36] },
  }, data);
}
