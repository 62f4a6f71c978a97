// The Gyre engine inside a Web Worker: the worker side of the protocol behind
// createEngine({ worker: true }) (the page side is worker-client.js).
//
// The worker runs the ordinary in-process API (index.js, model.js) and serves it by message, so the
// page keeps the same API without freezing while the engine computes:
//   page → worker  { type: 'init', id, options }                       createEngine(options)
//                  { type: 'call', id, target, method, args }           objects[target][method](...args)
//                  { type: 'abort', signal, reason }                    a proxied AbortSignal fired
//                  { type: 'release', target }                          the page dropped an object
//   worker → page  { type: 'result', id, ok: true, value }              value encoded, see encode()
//                  { type: 'result', id, ok: false, error }             { name, code, message, url }
//                  { type: 'callback', callback, args }                 a proxied function was called
// Objects with methods (the engine, models, iterators) stay here and cross as references
// { [REMOTE]: ref, props, outputs }; their data properties travel along as a snapshot. Functions in arguments
// (onProgress, onStep) and AbortSignals cross as references too, and are rebuilt here as stand-ins.
import { UnsupportedError, createEngine } from './index.js';
import { runLongCallsInSteps } from './model.js';
import { REMOTE, ITERATOR, CALLBACK, SIGNAL, OUTPUT_ARGUMENTS, isPlainData } from './worker-protocol.js';

// Long calls work in steps here, so that a long evaluation does not starve the page's other calls.
runLongCallsInSteps();

const objects = new Map();    // ref → object or async iterator served to the page
const controllers = new Map();  // signal ref → AbortController standing in for the page's signal
let nextRef = 1;

function register(object) {
  const ref = nextRef++;
  objects.set(ref, object);
  return ref;
}

// Data properties of an object, own and from getters up its prototype chain (e.g. engine.heapBytes).
function snapshot(object) {
  const props = {};
  for (const [key, value] of Object.entries(object)) {
    if (typeof value !== 'function') props[key] = encode(value);
  }
  for (let proto = Object.getPrototypeOf(object); proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)) {
    for (const [key, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (!descriptor.get || key in props) continue;
      try {
        const value = object[key];
        if (typeof value !== 'function') props[key] = encode(value);
      } catch { /* a getter that cannot be read now is left out of the snapshot */ }
    }
  }
  return props;
}

/** Turns a result into something structured clone can carry, registering live objects. */
function encode(value) {
  if (value === null || typeof value !== 'object') return typeof value === 'function' ? undefined : value;
  if (isPlainData(value)) return value;
  if (Array.isArray(value)) return value.map(encode);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, encode(v)]));
  if (typeof value[Symbol.asyncIterator] === 'function' && typeof value.next === 'function') {
    return { [ITERATOR]: register(value) };
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  }
  return { [REMOTE]: register(value), props: snapshot(value), outputs: value.constructor?.[OUTPUT_ARGUMENTS] ?? null };
}

/** Rebuilds arguments: callback and signal references become local stand-ins. */
function decode(value) {
  if (value === null || typeof value !== 'object' || isPlainData(value)) return value;
  if (Array.isArray(value)) return value.map(decode);
  if (CALLBACK in value) {
    const callback = value[CALLBACK];
    return (...args) => { postMessage({ type: 'callback', callback, args: args.map(encode) }); };
  }
  if (SIGNAL in value) {
    const ref = value[SIGNAL];
    let controller = controllers.get(ref);
    if (!controller) {
      controller = new AbortController();
      controllers.set(ref, controller);
      if (value.aborted) controller.abort(value.reason);
    }
    return controller.signal;
  }
  if (REMOTE in value) {
    if (!objects.has(value[REMOTE])) throw new Error(`object ${value[REMOTE]} was released`);
    return objects.get(value[REMOTE]);
  }
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, decode(v)]));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
}

function describeError(error) {
  return {
    name: error?.name ?? 'Error',
    code: error?.code,
    message: error?.message ?? String(error),
    url: error?.url,
  };
}

async function handle(message) {
  switch (message.type) {
    case 'init':
      return encode(await createEngine(decode(message.options)));
    case 'call': {
      const target = objects.get(message.target);
      if (!target) throw new Error(`object ${message.target} was released or never existed`);
      if (typeof target[message.method] !== 'function') {
        throw new UnsupportedError(`${target.constructor?.name ?? 'object'}.${message.method}() is not ` +
          'available in this build of the engine');
      }
      const value = await target[message.method](...decode(message.args));
      // An iterator step carries its value; the iterator itself is dropped when it is done.
      const isIterator = typeof target[Symbol.asyncIterator] === 'function';
      if (isIterator && (message.method === 'next' || message.method === 'return')) {
        if (value?.done) objects.delete(message.target);
        return { done: Boolean(value?.done), value: encode(value?.value) };
      }
      return encode(value);
    }
    default:
      throw new Error(`unknown message type ${message.type}`);
  }
}

addEventListener('message', async (event) => {
  const message = event.data;
  if (message.type === 'abort') {
    const controller = controllers.get(message.signal) ?? new AbortController();
    controllers.set(message.signal, controller);
    controller.abort(message.reason);
    return;
  }
  if (message.type === 'release') {
    objects.delete(message.target);
    controllers.delete(message.signal);
    return;
  }
  try {
    postMessage({ type: 'result', id: message.id, ok: true, value: await handle(message) });
  } catch (error) {
    postMessage({ type: 'result', id: message.id, ok: false, error: describeError(error) });
  }
});
