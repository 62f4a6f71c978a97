// Argument checks and option tables shared by engine.kernels (kernels.js) and its benchmark
// harness (benchmark.js): a bad value throws BadArgumentError naming it, before any wasm call.
import { BadArgumentError } from './errors.js';

export const MASKS = { bidirectional: 0, causal: 1, 'causal-window': 2, band: 3 };
export const NORMALISERS = { softmax: 0, softmax_plus: 1, relu2: 2 };
export const ACTIVATIONS = { none: 0, relu: 1, silu: 2, gelu: 3 };

export function check(condition, message) {
  if (!condition) throw new BadArgumentError(message);
}

export function positiveInt(value, name) {
  check(Number.isInteger(value) && value > 0 && value <= 1 << 24, `${name} must be a positive integer, got ${value}`);
  return value;
}

export function lookup(table, value, name) {
  check(Object.hasOwn(table, value), `${name} must be one of ${Object.keys(table).join(', ')}; got ${value}`);
  return table[value];
}

export function floats(array, length, name) {
  check(array instanceof Float32Array, `${name} must be a Float32Array`);
  check(array.length >= length, `${name} holds ${array.length} floats, needs ${length}`);
  return array;
}
