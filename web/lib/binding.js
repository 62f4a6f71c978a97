// Calls into the engine's Embind functions. Every one returns { ok: true, value } or
// { ok: false, code, message } (engine/bindings/js_result.h); this turns a failure, a trap or a
// stray exception into a GyreError.
import { GyreError, InternalError, UnsupportedError, errorFromCode } from './errors.js';

/** module[name](...args)'s value, or the GyreError its failure names. */
export function callBinding(module, name, ...args) {
  const fn = module[name];
  if (typeof fn !== 'function') {
    throw new UnsupportedError(`this build of the engine has no ${name}; rebuild it with \`npm run build\``);
  }
  let result;
  try {
    result = fn(...args);
  } catch (error) {
    if (error instanceof GyreError) throw error;
    throw new InternalError(`the engine failed in ${name}: ${error?.message ?? error}`, { cause: error });
  }
  if (result?.ok === true) return result.value;
  if (result?.ok === false) throw errorFromCode(result.code, result.message);
  throw new InternalError(`${name} returned ${result}, not { ok, value | code, message }`);
}
