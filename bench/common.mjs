// Helpers every benchmark shares: command-line options, the machine description recorded with the
// results, reproducible inputs, the wasm heap, binding results, medians.
import os from 'node:os';

/** The value after --name on the command line, or fallback. */
export function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** Whether --name is on the command line. */
export function flag(name) {
  return process.argv.includes(`--${name}`);
}

/** --flavour: which SIMD build of the engine to time ('simd' or 'relaxed'). */
export function flavourOption(fallback) {
  const flavour = option('flavour', fallback);
  if (!['simd', 'relaxed'].includes(flavour)) throw new Error(`--flavour must be simd or relaxed, got ${flavour}`);
  return flavour;
}

/** The machine a run measured, written into its results. */
export function machineInfo() {
  return { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg_at_start: os.loadavg(), node: process.version };
}

/** Reproducible inputs in [-1, 1) (xorshift32). */
export function randomArray(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; ++i) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/** Copies a Float32Array onto the wasm heap of a raw Gyre module; returns its address. */
export function heapCopy(gyre, data) {
  const address = gyre._malloc(data.length * 4);
  if (!address) throw new Error(`wasm heap allocation of ${data.length * 4} bytes failed`);
  gyre.HEAPF32.set(data, address / 4);
  return address;
}

/** A raw binding's { ok, value | code, message } (engine/bindings/js_result.h): its value, or a throw. */
export function check(result) {
  if (!result.ok) throw new Error(`gyre kernel failed: ${result.code}: ${result.message}`);
  return result.value;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function maxAbsDiff(a, b) {
  let worst = 0;
  for (let i = 0; i < a.length; ++i) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
