// The model half of Gyre's public JS API: loading shipped models and running them in the engine.
//
//   const lm = await engine.loadModel('models/gau-lm-softmax-plus/', { onProgress });
//   for await (const piece of lm.generate('It is a truth', { maxTokens: 200, temperature: 0.8, seed: 1 })) {}
//   const { nll } = lm.evaluate(text, { attention: 'local', window: 128, logn: true });
//   const ddpm = await engine.loadModel('models/ddpm-digits/');
//   const { images } = await ddpm.sample({ count: 16, steps: 50, seed: 7, onStep });
//   const wide = lm.widen(2);  wide.verify(text);   // → max |Δ logits| against lm
//
// Engine.loadModel (index.js) calls loadModel() below with the engine's internal call helpers.
import { BadArgumentError, BadModelError } from './errors.js';
import { fetchBytesCached } from './cache.js';
import { fetchBytes, looksLikeHtml, nodeBuiltin } from './fetch-bytes.js';
import { STEP_MILLISECONDS, checkAborted, checkStepOptions, yieldToEventLoop } from './steps.js';

// Long calls (evaluate, attentionEntropy, attentionWeights, verify) run as chunked passes in the
// engine. With a `signal` or an `onProgress` they run in steps (steps.js) and return a promise.
let stepsByDefault = false;

/** @internal worker.js: every long call runs in steps there, so the worker's other calls are not starved. */
export function runLongCallsInSteps() { stepsByDefault = true; }

function integerOption(value, name, min, max) {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BadArgumentError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

function numberOption(value, name, min, max) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new BadArgumentError(`${name} must be a number in [${min}, ${max}], got ${value}`);
  }
  return value;
}

function randomSeed() {
  return Math.floor(Math.random() * 2 ** 48);
}

function seedOption(seed) {
  if (seed === undefined || seed === null) return randomSeed();
  return integerOption(seed, 'seed', 0, Number.MAX_SAFE_INTEGER);
}

/** count classes in [0, classes), uniform, from the seed (mulberry32): reproducible per seed. */
function randomClasses(count, classes, seed) {
  let state = (seed ^ Math.floor(seed / 2 ** 32) ^ 0x9e3779b9) >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return Int32Array.from({ length: count }, () => Math.floor(next() * classes));
}

function joinUrl(directory, file) {
  if (directory instanceof URL) return new URL(file, directory.href.endsWith('/') ? directory : `${directory.href}/`);
  const text = String(directory);
  return text.endsWith('/') ? text + file : `${text}/${file}`;
}

/** Lower-case hex SHA-256 of bytes: Web Crypto (browsers, and Node's globalThis.crypto), else node:crypto. */
async function sha256Hex(bytes) {
  let digest;
  if (globalThis.crypto?.subtle) {
    digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes));
  } else if (typeof process === 'object' && process.versions?.node) {
    const { createHash } = await nodeBuiltin('crypto');
    digest = createHash('sha256').update(bytes).digest();
  } else {
    return null;  // a page served over plain http from another host than localhost: no Web Crypto
  }
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * Checks the weights against the SHA-256 that config.json records (`weights.sha256`, written by
 * models/train/export.py). A model without one, or `integrity: false`, is not checked.
 */
async function checkIntegrity(config, weights, weightsWhere) {
  const expected = config?.weights?.sha256;
  if (expected === undefined) return;
  if (typeof expected !== 'string' || !/^[0-9a-f]{64}$/i.test(expected)) {
    throw new BadModelError(`config.json: weights.sha256 must be 64 hex digits, got ${JSON.stringify(expected)}`);
  }
  const actual = await sha256Hex(weights);
  if (actual === null) {
    console.warn(`gyre: ${weightsWhere} was not checked against its SHA-256 (Web Crypto needs a secure context)`);
    return;
  }
  if (actual !== expected.toLowerCase()) {
    throw new BadModelError(`${weightsWhere}: SHA-256 ${actual} does not match ${expected.toLowerCase()} ` +
      'recorded in config.json: the file is corrupt or belongs to another model ' +
      '(pass integrity: false to load it anyway)', { url: weightsWhere });
  }
}

async function fetchModelFiles(source, signal, onProgress, cache) {
  if (source && typeof source === 'object' && !(source instanceof URL) && 'config' in source) {
    const config = typeof source.config === 'string' ? source.config : JSON.stringify(source.config);
    const weights = source.weights instanceof Uint8Array ? source.weights
      : ArrayBuffer.isView(source.weights) ? new Uint8Array(source.weights.buffer, source.weights.byteOffset, source.weights.byteLength)
      : source.weights instanceof ArrayBuffer ? new Uint8Array(source.weights) : null;
    if (!weights) throw new BadArgumentError('loadModel({ config, weights }): weights must be an ArrayBuffer or a typed array');
    return { configText: config, weights, where: 'the model given as bytes', weightsWhere: 'the weights given as bytes' };
  }
  if (typeof source !== 'string' && !(source instanceof URL)) {
    throw new BadArgumentError('loadModel needs a directory URL or path (holding config.json and ' +
      `model.safetensors), or { config, weights }; got ${Object.prototype.toString.call(source)}`);
  }
  const configUrl = joinUrl(source, 'config.json');
  const weightsUrl = joinUrl(source, 'model.safetensors');
  // With `cache`, both files come from the Cache API while they are current (cache.js).
  const fetchFile = cache ? (url, options) => fetchBytesCached(url, { ...options, cache }) : fetchBytes;
  const config = await fetchFile(configUrl, { what: 'the model config', signal });
  if (looksLikeHtml(config.bytes, config.contentType)) {
    throw new BadModelError(`${config.url} returned an HTML page instead of the model's config.json: fix the path`,
      { url: config.url });
  }
  const weights = await fetchFile(weightsUrl, { what: 'the model weights', signal, onProgress });
  if (looksLikeHtml(weights.bytes, weights.contentType)) {
    throw new BadModelError(`${weights.url} returned an HTML page instead of model.safetensors: fix the path`,
      { url: weights.url });
  }
  return { configText: new TextDecoder().decode(config.bytes), weights: weights.bytes, where: String(source),
    weightsWhere: weights.url };
}

/**
 * Loads a model directory (config.json + model.safetensors) or `{ config, weights }` bytes.
 * Resolves to a LanguageModel (families gau-lm, flash-lm, roformer-v2) or a DiffusionModel (ddpm-unet).
 * @internal  Called by Engine.loadModel.
 */
export async function loadModel(engine, source, { onProgress, signal, cache = false, integrity = true } = {}) {
  if (typeof integrity !== 'boolean') throw new BadArgumentError(`integrity must be a boolean, got ${integrity}`);
  const { configText, weights, where, weightsWhere } = await fetchModelFiles(source, signal, onProgress, cache);
  checkAborted(signal, `loading ${where}`);
  let config;
  try {
    config = JSON.parse(configText);
  } catch (error) {
    throw new BadModelError(`${where}: config.json is not valid JSON (${error.message})`, { cause: error });
  }
  if (integrity) await checkIntegrity(config, weights, weightsWhere);
  checkAborted(signal, `loading ${where}`);
  const family = config?.family;
  if (family === 'gau-lm' || family === 'roformer-v2' || family === 'flash-lm') {
    const info = engine.withHeapCopy(weights, where, (address) => engine.call('lmLoad', configText, address, weights.byteLength));
    return new LanguageModel(engine, info, config);
  }
  if (family === 'ddpm-unet') {
    const info = engine.withHeapCopy(weights, where, (address) => engine.call('ddpmLoad', configText, address, weights.byteLength));
    return new DiffusionModel(engine, info, config);
  }
  throw new BadModelError(`${where}: config.json has family ${JSON.stringify(family)}; this engine runs ` +
    'gau-lm, flash-lm, roformer-v2 and ddpm-unet');
}

class Model {
  #engine;
  #handle;

  constructor(engine, info, config) {
    this.#engine = engine;
    this.#handle = info.handle;
    /** The model's config.json (as loaded). */
    this.config = config;
    /** The name from config.json, e.g. 'gau-lm-softmax-plus'. */
    this.name = config?.name ?? info.family;
  }

  /** @internal */
  call(name, ...args) {
    if (this.#handle === 0) throw new BadArgumentError(`${this.name} was disposed`);
    return this.#engine.call(name, this.#handle, ...args);
  }

  /** @internal */
  get engine() { return this.#engine; }
  /** @internal */
  get handle() { return this.#handle; }

  /** Frees the model's weights and workspace in the wasm heap. The model cannot be used afterwards. */
  dispose() {
    if (this.#handle !== 0) this.#engine.call('modelFree', this.#handle);
    this.#handle = 0;
  }
}

const ATTENTION_MODES = { 'as-trained': 'as-trained', full: 'full', local: 'local' };

/** A causal character language model (GAU-LM or RoFormerV2). */
export class LanguageModel extends Model {
  constructor(engine, info, config, original = null) {
    super(engine, info, config);
    /** { family, normaliser, vocabSize, hidden, layers, heads, headSize, ropeDim, trainLength, parameters } */
    this.info = Object.freeze({ ...info, vocab: undefined });
    /** One string (a character) per token id; id 0 is the unknown symbol. */
    this.vocab = Object.freeze([...info.vocab]);
    this.#original = original;
  }

  #original;

  /** Token ids of `text` (characters outside the vocabulary become id 0). */
  encode(text) {
    if (typeof text !== 'string') throw new BadArgumentError(`text must be a string, got ${typeof text}`);
    return this.call('lmEncode', text);
  }

  /** Text of token ids. */
  decode(ids) {
    let text = '';
    for (const id of ids) text += this.vocab[id] ?? this.vocab[0];
    return text;
  }

  #ids(input) {
    if (input instanceof Int32Array) return input;
    if (Array.isArray(input)) return Int32Array.from(input);
    return this.encode(input);
  }

  /** { mode, window, logn } for the engine from the public options. */
  #attention({ attention = 'as-trained', window, logn = false } = {}) {
    const mode = ATTENTION_MODES[attention];
    if (!mode) throw new BadArgumentError(`attention must be 'as-trained', 'full' or 'local', got ${attention}`);
    if (typeof logn !== 'boolean') throw new BadArgumentError(`logn must be a boolean, got ${logn}`);
    const w = mode === 'local' ? integerOption(window ?? this.info.trainLength, 'window', 1, 2 ** 30) : 0;
    return { mode, window: w, logn };
  }

  /**
   * Runs a chunked pass in the engine: at once (and returns `finish(result)`), or, with `signal` or
   * `onProgress` (or in a worker), in steps with the event loop running between them (and returns
   * a promise of it). onProgress({ done, total }) counts tokens through the model.
   */
  #pass(what, ids, attention, request, { signal, onProgress } = {}, finish = (result) => result) {
    checkStepOptions(signal, onProgress);
    const full = { layer: 0, head: 0, queryBegin: 0, queryEnd: 0, reference: 0, ...request };
    const engine = this.engine;
    if (!signal && !onProgress && !stepsByDefault) {
      const id = this.call('lmPassStart', ids, attention, full);
      try {
        engine.call('lmPassRun', id, Infinity);
        return finish(engine.call('lmPassResult', id));
      } finally {
        engine.call('lmPassFree', id);
      }
    }
    return (async () => {
      checkAborted(signal, what);
      const id = this.call('lmPassStart', ids, attention, full);
      try {
        for (;;) {
          const step = engine.call('lmPassRun', id, STEP_MILLISECONDS);
          onProgress?.({ done: step.tokensDone, total: step.tokensTotal });
          if (step.done) return finish(engine.call('lmPassResult', id));
          await yieldToEventLoop();
          checkAborted(signal, what);
        }
      } finally {
        engine.call('lmPassFree', id);
      }
    })();
  }

  /**
   * Logits of a causal pass: Float32Array [n × vocabSize]. `input`: text, token ids (array or
   * Int32Array). Options as evaluate().
   */
  logits(input, options) {
    return this.call('lmLogits', this.#ids(input), this.#attention(options));
  }

  /**
   * Per-position negative log-likelihood (nats) of `text` under an attention override:
   * `attention`: 'as-trained' (causal, the trained normaliser), 'full' (the same; with `logn: true` the
   * post-hoc log-n scale max(1, log l / log L)), 'local' (sliding window of `window` keys, default the
   * training length; `logn` optional). Returns { nll: Float32Array(n − 1) (nll[i] predicts token i + 1),
   * meanNll, bitsPerChar }. The text runs through the model in chunks over a cache of keys: a
   * window's worth with 'local', every key with full attention (TooLargeError past the limit that
   * names it). With `signal` (an AbortSignal: AbortedError within one step, tens of milliseconds)
   * or `onProgress({ done, total })` it works in steps and returns a promise.
   */
  evaluate(text, { signal, onProgress, ...options } = {}) {
    const summarise = (nll) => {
      let sum = 0;
      for (const value of nll) sum += value;
      const meanNll = nll.length ? sum / nll.length : NaN;
      return { nll, meanNll, bitsPerChar: meanNll / Math.LN2 };
    };
    return this.#pass('evaluation', this.#ids(text), this.#attention(options), { result: 'nll' },
      { signal, onProgress }, summarise);
  }

  /**
   * Attention entropy (nats) per position of one layer: { entropy: Float32Array [n × heads], heads }.
   * Options: `layer` (default 0), the attention override, `signal` and `onProgress` of evaluate().
   */
  attentionEntropy(text, { layer = 0, signal, onProgress, ...options } = {}) {
    integerOption(layer, 'layer', 0, this.info.layers - 1);
    return this.#pass('attentionEntropy', this.#ids(text), this.#attention(options), { result: 'entropy', layer },
      { signal, onProgress }, (entropy) => ({ entropy, heads: this.info.heads }));
  }

  /**
   * Attention weights of one layer and head for queries [queryBegin, queryEnd): { weights: Float32Array
   * [rows × n] (0 where masked), rows, keys: n }, for heat maps. `signal` and `onProgress` as in
   * evaluate().
   */
  attentionWeights(text, { layer = 0, head = 0, queryBegin = 0, queryEnd, signal, onProgress, ...options } = {}) {
    const ids = this.#ids(text);
    const end = queryEnd ?? ids.length;
    integerOption(layer, 'layer', 0, this.info.layers - 1);
    integerOption(head, 'head', 0, this.info.heads - 1);
    integerOption(queryBegin, 'queryBegin', 0, Math.max(0, ids.length - 1));
    integerOption(end, 'queryEnd', queryBegin + 1, ids.length);
    return this.#pass('attentionWeights', ids, this.#attention(options),
      { result: 'weights', layer, head, queryBegin, queryEnd: end }, { signal, onProgress },
      (weights) => ({ weights, rows: end - queryBegin, keys: ids.length }));
  }

  /**
   * Generates text after `prompt`, streamed as an async iterator of pieces (one character each).
   * Options: maxTokens (200), temperature (0.8; 0 = greedy), topK (0 = off), topP (1 = off),
   * repetitionPenalty (1 = off; applied to the last `repetitionWindow` = 64 tokens), seed (a fixed seed
   * makes it deterministic), signal (an AbortSignal: the iterator then throws AbortedError), and the
   * attention override of evaluate(). The default attention is 'local' with the training length as the
   * window: a ring of keys keeps memory constant and quality steady however long the generation runs.
   * flash-lm has no window (nor log-n: both are a BadArgumentError); its default is 'as-trained', whose
   * decoding state is constant anyway (one FlashDecoder per layer).
   */
  async *generate(prompt, {
    maxTokens = 200, temperature = 0.8, topK = 0, topP = 1, repetitionPenalty = 1, repetitionWindow = 64,
    seed, signal, attention = this.info.family === 'flash-lm' ? 'as-trained' : 'local', window, logn = false,
  } = {}) {
    integerOption(maxTokens, 'maxTokens', 0, 1 << 24);
    const sampling = {
      temperature: numberOption(temperature, 'temperature', 0, 100),
      topK: integerOption(topK, 'topK', 0, this.info.vocabSize),
      topP: numberOption(topP, 'topP', Number.MIN_VALUE, 1),
      repetitionPenalty: numberOption(repetitionPenalty, 'repetitionPenalty', Number.MIN_VALUE, 100),
      repetitionWindow: integerOption(repetitionWindow, 'repetitionWindow', 0, 4096),
      seed: seedOption(seed),
    };
    const ids = this.#ids(prompt.length ? prompt : ' ');
    const override = this.#attention({ attention, window, logn });
    checkAborted(signal, 'generation');
    this.call('lmGenerateBegin', ids, override, sampling);
    // Tokens come from the engine in small batches; between batches the event loop runs (abort, UI).
    let produced = 0;
    let batch = 1;
    while (produced < maxTokens) {
      checkAborted(signal, 'generation');
      const count = Math.min(batch, maxTokens - produced);
      const tokens = this.call('lmGenerateNext', count);
      produced += count;
      for (const token of tokens) yield this.vocab[token] ?? this.vocab[0];
      batch = Math.min(batch * 2, 16);
      await yieldToEventLoop();
    }
  }

  /**
   * Lossless widening (docs/ALGORITHMS.md §8): a new model k times wider computing the same function.
   * `exactRope` (default true) duplicates the θ table so RoPE stays exact; false keeps standard RoPE at
   * the wider head size, which is only approximately lossless (measure it with verify()).
   */
  widen(k, { exactRope = true } = {}) {
    integerOption(k, 'k', 1, 16);
    const info = this.call('lmWiden', k, Boolean(exactRope));
    const config = { ...this.config, name: `${this.name}-widened-x${k}${exactRope ? '' : '-standard-rope'}` };
    return new LanguageModel(this.engine, info, config, this);
  }

  /**
   * For a widened model: max |Δ logits| against the model it was widened from, over `input` (text or
   * token ids; default a fixed sentence). `signal` and `onProgress` as in evaluate().
   */
  verify(input = 'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.',
    { signal, onProgress } = {}) {
    if (!this.#original) throw new BadArgumentError('verify() compares a widened model with its original: call it on the result of widen()');
    if (this.#original.handle === 0) throw new BadArgumentError(`${this.#original.name} (the original of ${this.name}) was disposed`);
    return this.#pass('verify', this.#ids(input), this.#attention({ attention: 'as-trained' }),
      { result: 'max-difference', reference: this.#original.handle }, { signal, onProgress }, (result) => result[0]);
  }
}

/** The DDPM ε-prediction U-Net with its samplers. */
export class DiffusionModel extends Model {
  constructor(engine, info, config) {
    super(engine, info, config);
    /** { family, imageSize, channels, steps, classes (0: unconditional), parameters } */
    this.info = Object.freeze({ ...info });
  }

  get #imageFloats() { return this.info.channels * this.info.imageSize * this.info.imageSize; }

  /**
   * ε̂(x, k) for images x (Float32Array [count × C × H × W]) at network time indices k (k = t − 1).
   * label (class-conditional models): a class per image, one class for all, or null for any class.
   */
  predictNoise(x, k, label = null) {
    if (!(x instanceof Float32Array)) throw new BadArgumentError('x must be a Float32Array');
    const indices = k instanceof Int32Array ? k : Int32Array.from(Array.isArray(k) ? k : [k]);
    return this.call('ddpmPredict', x, indices, this.#labels(label, indices.length));
  }

  /** null (any class) or an Int32Array of `count` classes, −1 for any class. */
  #labels(label, count) {
    if (label === null || label === undefined) return null;
    const { classes } = this.info;
    if (classes === 0) throw new BadArgumentError(`${this.name} is not class-conditional: label must be null`);
    const one = (value) => {
      if (value === null) return -1;
      return integerOption(value, 'label', 0, classes - 1);
    };
    if (Array.isArray(label) || label instanceof Int32Array) {
      if (label.length !== count) {
        throw new BadArgumentError(`label must hold one class per image (${count}), got ${label.length}`);
      }
      return Int32Array.from(label, (value) => (label instanceof Int32Array && value === -1 ? -1 : one(value)));
    }
    return new Int32Array(count).fill(one(label));
  }

  /**
   * Samples images. Options: count (16), steps (50): strided DDIM over ceil(T / stride) network calls
   * with stride = T / steps (or `stride` directly), eta (0 = deterministic); steps = T or
   * method: 'ancestral' runs the full ancestral sampler with sigma 'beta' (σ_t = β_t) or 'alt'
   * (σ_t = β_t β̄_{t−1} / β̄_t); seed (fixes the start noise and every z); start (a Float32Array of
   * starting noise, optional); label (class-conditional models, info.classes > 0: the class to draw,
   * 0 to classes − 1, or one per image; 'random' (the default) draws each image's class uniformly from
   * the seed, then the image for it; null uses the net's any-class row); guidance (classifier-free
   * guidance weight w in [0, 10], default 1: ε̂ = ε̂_any + w (ε̂_label − ε̂_any), a second network call per
   * step when w ≠ 1 and a label is given); signal;
   * onStep({ step, totalSteps, k, x, x0 }) after every step, with x_t and the predicted x̂_0
   * (Float32Array [count × C × H × W]). Resolves to { images (in [−1, 1]), count, imageSize, channels,
   * labels (the class of each image, Int32Array, −1 for the any-class row; null for unconditional nets) }.
   */
  async sample({
    count = 16, steps = 50, stride, eta = 0, sigma = 'beta', method, seed, start, label = 'random', guidance = 1,
    signal, onStep,
  } = {}) {
    const T = this.info.steps;
    integerOption(count, 'count', 1, 4096);
    const ancestral = method === 'ancestral' || (method === undefined && stride === undefined && steps === T);
    if (method !== undefined && method !== 'ancestral' && method !== 'ddim') {
      throw new BadArgumentError(`method must be 'ancestral' or 'ddim', got ${method}`);
    }
    if (sigma !== 'beta' && sigma !== 'alt') throw new BadArgumentError(`sigma must be 'beta' or 'alt', got ${sigma}`);
    const chosenStride = ancestral ? 1 : stride !== undefined
      ? integerOption(stride, 'stride', 1, T) : Math.max(1, Math.round(T / integerOption(steps, 'steps', 1, T)));
    if (start !== undefined && (!(start instanceof Float32Array) || start.length !== count * this.#imageFloats)) {
      throw new BadArgumentError(`start must be a Float32Array of count × ${this.#imageFloats} values`);
    }
    if (onStep !== undefined && typeof onStep !== 'function') throw new BadArgumentError('onStep must be a function');
    const chosenSeed = seedOption(seed);
    const { classes } = this.info;
    const labels = label !== 'random' ? this.#labels(label, count)
      : classes > 0 ? randomClasses(count, classes, chosenSeed) : null;
    const options = {
      count, method: ancestral ? 'ancestral' : 'strided', stride: chosenStride,
      eta: numberOption(eta, 'eta', 0, 1), sigma: sigma === 'beta' ? 'beta' : 'posterior', seed: chosenSeed,
      labels, guidance: numberOption(guidance, 'guidance', 0, 10),
    };
    checkAborted(signal, 'sampling');
    const totalSteps = this.call('ddpmBegin', options, start ?? null);
    for (;;) {
      checkAborted(signal, 'sampling');
      const step = this.call('ddpmStep', onStep !== undefined);
      if (onStep) onStep({ step: step.stepsDone, totalSteps, k: step.k, x: step.x, x0: step.x0 });
      if (step.done) {
        return {
          images: step.x, count, imageSize: this.info.imageSize, channels: this.info.channels,
          labels: classes > 0 ? labels ?? new Int32Array(count).fill(-1) : null,
        };
      }
      await yieldToEventLoop();
    }
  }
}
