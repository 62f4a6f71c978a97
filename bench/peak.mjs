// The machine's ceilings under this runtime, one thread, as hand-assembled wasm modules, so that a
// kernel's speed can be read as a share of what the core can do, whatever the machine (absolute
// GFLOP/s differ by a factor of two between machines):
// - arithmetic: a loop over twelve independent register-resident chains of f32x4 arithmetic (no
//   loads), enough chains to cover each instruction's latency, in two forms. SIMD128: six multiply
//   chains and six add chains (a GEMM's multiplies do not wait on the previous step, only its
//   adds); relaxed SIMD: twelve f32x4.relaxed_madd chains (fused where the CPU has FMA);
// - streaming: v128 loads over a buffer of a given size, again and again, as a GEMV streams its
//   weights (a buffer of 1 MiB stays in L2 from one call to the next).

const CHAINS = 12;
const uleb = (n) => {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
};
const f32x4Const = (v) => {
  const lane = new Uint8Array(new Float32Array([v]).buffer);
  return [0xfd, 0x0c, ...lane, ...lane, ...lane, ...lane];
};
const F32X4_ADD = [0xfd, 0xe4, 0x01], F32X4_MUL = [0xfd, 0xe6, 0x01];
const F32X4_RELAXED_MADD = [0xfd, 0x85, 0x02];

// (func (param $n i32) (result f32)): n iterations of the chains; returns lane 0 of their sum.
function peakModule(fused) {
  const local = (i) => i + 1;  // chain i's accumulator (param n is local 0)
  const m = local(CHAINS), c = local(CHAINS + 1);
  const body = [];
  for (let i = 0; i < CHAINS; ++i) body.push(...f32x4Const(1 + i), 0x21, local(i));
  body.push(...f32x4Const(0.9999999), 0x21, m, ...f32x4Const(1e-7), 0x21, c);
  body.push(0x03, 0x40);  // loop
  for (let i = 0; i < CHAINS; ++i) {
    if (fused) body.push(0x20, local(i), 0x20, m, 0x20, c, ...F32X4_RELAXED_MADD);  // a·m + c
    else if (i % 2) body.push(0x20, local(i), 0x20, m, ...F32X4_MUL);  // a·m
    else body.push(0x20, local(i), 0x20, c, ...F32X4_ADD);  // a + c
    body.push(0x21, local(i));
  }
  body.push(0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b);  // n = n - 1; br_if n != 0; end
  body.push(0x20, local(0));
  for (let i = 1; i < CHAINS; ++i) body.push(0x20, local(i), ...F32X4_ADD);
  body.push(0xfd, 0x1f, 0, 0x0b);  // f32x4.extract_lane 0; end
  const locals = [0x01, ...uleb(CHAINS + 2), 0x7b];  // one run of v128 locals
  const func = [...uleb(locals.length + body.length), ...locals, ...body];
  const code = [0x01, ...func];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7d,  // type: (i32) -> f32
    0x03, 0x02, 0x01, 0x00,  // function section
    0x07, 0x08, 0x01, 0x04, 0x70, 0x65, 0x61, 0x6b, 0x00, 0x00,  // export "peak"
    0x0a, ...uleb(code.length), ...code,
  ]);
}

// The ceiling loop of one form ('simd' or 'relaxed') as a benchmark case: run() does `flops`
// floating-point operations. Timed in the same interleaved rounds as a kernel, the per-round ratio
// of their rates gives the kernel's share of the ceiling, robust to drifts in machine speed.
export function ceilingCase(form, iterations = 200000) {
  const bytes = peakModule(form === 'relaxed');
  if (!WebAssembly.validate(bytes)) {
    throw new Error(`this runtime does not validate the ${form} ceiling loop (relaxed SIMD needs --experimental-wasm-relaxed-simd in Node 20)`);
  }
  const peak = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.peak;
  for (let i = 0; i < 20; ++i) peak(iterations);  // reach the optimizing tier
  const flopsPerIteration = CHAINS * 4 * (form === 'relaxed' ? 2 : 1);
  return { run: () => peak(iterations), flops: flopsPerIteration * iterations };
}

// (func (param $bytes i32) (result i32)): ORs every 16-byte vector of memory[0, bytes) into six
// accumulators (bytes a multiple of 96); the result only keeps the loads alive.
function streamModule(bytes) {
  const acc = (j) => j + 1, i = 7;  // locals: param 0, six v128, one i32
  const body = [0x03, 0x40];  // loop
  for (let j = 0; j < 6; ++j) {
    body.push(0x20, acc(j), 0x20, i, 0xfd, 0x00, 0x04, ...uleb(16 * j), 0xfd, 0x50, 0x21, acc(j));  // v128.load, v128.or
  }
  // i += 96 (i32.const 96 is two bytes of signed LEB128); br_if i < bytes; end
  body.push(0x20, i, 0x41, 0xe0, 0x00, 0x6a, 0x22, i, 0x20, 0, 0x49, 0x0d, 0, 0x0b);
  body.push(0x20, acc(0));
  for (let j = 1; j < 6; ++j) body.push(0x20, acc(j), 0xfd, 0x50);
  body.push(0xfd, 0x1b, 0, 0x0b);  // i32x4.extract_lane 0; end
  const locals = [0x02, 0x06, 0x7b, 0x01, 0x7f];
  const func = [...uleb(locals.length + body.length), ...locals, ...body];
  const code = [0x01, ...func];
  const pages = uleb(Math.ceil(bytes / 65536));
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,  // type: (i32) -> i32
    0x03, 0x02, 0x01, 0x00,  // function section
    0x05, 2 + pages.length, 0x01, 0x00, ...pages,  // memory section: one memory, min pages
    0x07, 0x13, 0x02, 0x06, 0x73, 0x74, 0x72, 0x65, 0x61, 0x6d, 0x00, 0x00,  // export "stream",
    0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00,  // and "memory"
    0x0a, ...uleb(code.length), ...code,
  ]);
}

// The streaming ceiling as a benchmark case: run() reads `bytes` bytes (rounded down to 96).
export function streamingCase(bytes) {
  const readBytes = bytes - (bytes % 96);
  const { stream, memory } = new WebAssembly.Instance(new WebAssembly.Module(streamModule(readBytes))).exports;
  // Written first: untouched pages all map to one page of zeros, which would stay in L1.
  new Float32Array(memory.buffer, 0, readBytes / 4).fill(1);
  for (let i = 0; i < 20; ++i) stream(readBytes);
  return { run: () => stream(readBytes), bytes: readBytes };
}
