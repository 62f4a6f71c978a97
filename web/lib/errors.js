// Typed errors of the Gyre API. Every failure, from the JS loader or from C++ inside the wasm
// module, reaches callers as a GyreError subclass with a stable `code` and a message that says what
// went wrong and what to do. Check with `instanceof` or `error.code`.

export class GyreError extends Error {
  /** @param {string} code  @param {string} message  @param {object} [options] `{ cause, url }` */
  constructor(code, message, options = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    if (options.url !== undefined) this.url = String(options.url);
  }
}

/** A model or weights file is malformed or inconsistent (e.g. a safetensors header that lies). */
export class BadModelError extends GyreError {
  constructor(message, options) { super('BAD_MODEL', message, options); }
}
/** A valid file holds a tensor type the engine does not convert (it reads F32, F16, BF16, and I8 with per-row scales). */
export class UnsupportedDtypeError extends GyreError {
  constructor(message, options) { super('UNSUPPORTED_DTYPE', message, options); }
}
/** A size exceeds what the engine can address; checked before allocating. */
export class TooLargeError extends GyreError {
  constructor(message, options) { super('TOO_LARGE', message, options); }
}
/** An allocation of an addressable size failed; free other engines or models and retry. */
export class OutOfMemoryError extends GyreError {
  constructor(message, options) { super('OUT_OF_MEMORY', message, options); }
}
/** A URL returned something other than WebAssembly, typically an HTML page. */
export class NotWasmError extends GyreError {
  constructor(message, options) { super('NOT_WASM', message, options); }
}
/** A file, URL or tensor does not exist (HTTP 404, ENOENT, unknown name). */
export class NotFoundError extends GyreError {
  constructor(message, options) { super('NOT_FOUND', message, options); }
}
/** A caller passed an invalid value. */
export class BadArgumentError extends GyreError {
  constructor(message, options) { super('BAD_ARGUMENT', message, options); }
}
/** The work was cancelled (AbortSignal), or the wasm module aborted. */
export class AbortedError extends GyreError {
  constructor(message, options) { super('ABORTED', message, options); }
}
/** A network or server failure other than "not found" (HTTP 5xx, connection refused, CORS). */
export class NetworkError extends GyreError {
  constructor(message, options) { super('NETWORK', message, options); }
}
/** The runtime lacks something the engine needs (WebAssembly itself, or SIMD when forced). */
export class UnsupportedError extends GyreError {
  constructor(message, options) { super('UNSUPPORTED', message, options); }
}
/** A bug in Gyre: the engine trapped or threw unexpectedly. Please report it with the message. */
export class InternalError extends GyreError {
  constructor(message, options) { super('INTERNAL', message, options); }
}

const classesByCode = {
  BAD_MODEL: BadModelError,
  UNSUPPORTED_DTYPE: UnsupportedDtypeError,
  TOO_LARGE: TooLargeError,
  OUT_OF_MEMORY: OutOfMemoryError,
  NOT_WASM: NotWasmError,
  NOT_FOUND: NotFoundError,
  BAD_ARGUMENT: BadArgumentError,
  ABORTED: AbortedError,
  NETWORK: NetworkError,
  UNSUPPORTED: UnsupportedError,
  INTERNAL: InternalError,
};

/** Every error code, for documentation and exhaustive tests. */
export const ERROR_CODES = Object.freeze(Object.keys(classesByCode));

/** The GyreError subclass for `code` (InternalError for an unknown code). */
export function errorFromCode(code, message, options) {
  const ErrorClass = classesByCode[code];
  if (!ErrorClass) return new InternalError(`${message} (unknown error code ${code})`, options);
  return new ErrorClass(message, options);
}
