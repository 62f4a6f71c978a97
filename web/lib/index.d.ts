// Types of Gyre's public JS API (web/lib/index.js).

export type ErrorCode =
  | 'BAD_MODEL' | 'UNSUPPORTED_DTYPE' | 'TOO_LARGE' | 'OUT_OF_MEMORY' | 'NOT_WASM' | 'NOT_FOUND'
  | 'BAD_ARGUMENT' | 'ABORTED' | 'NETWORK' | 'UNSUPPORTED' | 'INTERNAL';

export interface GyreErrorOptions { cause?: unknown; url?: string | URL }

/** Base class of every error Gyre throws; `code` is stable, `url` is set when a URL is at fault. */
export class GyreError extends Error {
  constructor(code: ErrorCode, message: string, options?: GyreErrorOptions);
  readonly code: ErrorCode;
  readonly url?: string;
}
export class BadModelError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'BAD_MODEL' }
export class UnsupportedDtypeError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'UNSUPPORTED_DTYPE' }
export class TooLargeError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'TOO_LARGE' }
export class OutOfMemoryError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'OUT_OF_MEMORY' }
export class NotWasmError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'NOT_WASM' }
export class NotFoundError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'NOT_FOUND' }
export class BadArgumentError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'BAD_ARGUMENT' }
export class AbortedError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'ABORTED' }
export class NetworkError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'NETWORK' }
export class UnsupportedError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'UNSUPPORTED' }
export class InternalError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'INTERNAL' }

export const ERROR_CODES: readonly ErrorCode[];
export function errorFromCode(code: string, message: string, options?: GyreErrorOptions): GyreError;

export type Flavour = 'simd' | 'scalar';
export interface Progress { loaded: number; total: number }

export interface CreateEngineOptions {
  /** 'auto' (default): SIMD128 when the runtime supports it, else scalar. */
  simd?: 'auto' | boolean;
  /** Where the .wasm is; default `new URL('./wasm/gyre-<flavour>.wasm', import.meta.url)`. */
  wasmUrl?: string | URL | { simd?: string | URL; scalar?: string | URL } | ((flavour: Flavour) => string | URL);
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
}

export interface Features {
  readonly simd: boolean;
  readonly threads: boolean;
  readonly version: string;
  readonly flavour: Flavour;
  /** The most memory the engine's wasm heap can grow to. */
  readonly heapMaxBytes: number;
}

export interface SafetensorsTensor {
  name: string;
  /** As stored in the file: 'F32', 'F16' or 'BF16'. */
  dtype: string;
  shape: number[];
  /** Converted to f32. */
  data: Float32Array;
}

export interface Safetensors {
  /** In file (data offset) order. */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export interface RopeOptions {
  /** Floats per head; defaults to x.length. */
  headDim?: number;
  /** Position of the first row; row r is at position + r. Default 0. */
  position?: number;
  /** Default 10000. */
  base?: number;
  /** 'interleaved' (default; pairs (2i, 2i+1)) or 'half-split' (pairs (i, i + headDim/2)). */
  layout?: 'interleaved' | 'half-split';
}

export class Engine {
  private constructor();
  readonly features: Features;
  /** The URL or path the wasm was loaded from. */
  readonly wasmUrl: string;
  /** Current size of the wasm heap in bytes. */
  readonly heapBytes: number;
  loadSafetensors(
    source: ArrayBuffer | ArrayBufferView | string | URL,
    options?: { signal?: AbortSignal; onProgress?: (progress: Progress) => void },
  ): Promise<Safetensors>;
  rope(x: Float32Array, options?: RopeOptions): Float32Array;
}

export function createEngine(options?: CreateEngineOptions): Promise<Engine>;
export function simdSupported(): boolean;
export function defaultWasmUrl(flavour: Flavour): URL;
export function fetchBytes(
  location: string | URL,
  options?: { what?: string; signal?: AbortSignal; onProgress?: (progress: Progress) => void },
): Promise<{ bytes: Uint8Array; contentType: string; url: string }>;
