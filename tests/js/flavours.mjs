// The wasm flavours the JS suites run on: relaxed SIMD where this Node runs it (npm test passes
// --experimental-wasm-relaxed-simd to Node 20), SIMD128 and scalar always.
import { relaxedSimdSupported } from '../../web/lib/index.js';

export const FLAVOURS = [...(relaxedSimdSupported() ? ['relaxed'] : []), 'simd', 'scalar'];

/** createEngine options that load exactly this flavour. */
export function flavourOptions(flavour) {
  if (flavour === 'relaxed') return { relaxed: true };
  return flavour === 'simd' ? { relaxed: false } : { simd: false };
}
