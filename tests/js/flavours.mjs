// The wasm flavours the JS suites run on: relaxed SIMD where this Node runs it (npm test passes
// --experimental-wasm-relaxed-simd to Node 20), SIMD128 and scalar always.
import { relaxedSimdSupported } from '../../web/lib/index.js';

export const FLAVOURS = [...(relaxedSimdSupported() ? ['relaxed'] : []), 'simd', 'scalar'];

/** createEngine options that load exactly this single-thread flavour (threads.test.mjs runs the
 * threaded ones against them). */
export function flavourOptions(flavour) {
  if (flavour === 'relaxed') return { relaxed: true, threads: false };
  return flavour === 'simd' ? { relaxed: false, threads: false } : { simd: false, threads: false };
}
