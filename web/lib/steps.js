// Long work in steps: a call given an AbortSignal or an onProgress callback runs its work in pieces
// of about STEP_MILLISECONDS and returns a promise; between pieces the event loop runs, so an abort
// lands, progress is drawn, and a worker serves its other calls. Used by model.js (evaluate,
// attentionEntropy, attentionWeights, verify) and kernels.js (attention, attentionWeights).
import { AbortedError, BadArgumentError } from './errors.js';

export const STEP_MILLISECONDS = 20;

/** Lets timers, I/O and AbortSignals run between chunks of work (a macrotask, not a microtask). */
export function yieldToEventLoop() {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => { channel.port1.close(); resolve(); };
    channel.port2.postMessage(0);
  });
}

export function checkAborted(signal, what) {
  if (signal?.aborted) throw new AbortedError(`${what} was cancelled`, { cause: signal.reason });
}

/** BadArgumentError unless `signal` is an AbortSignal (or absent) and `onProgress` a function (or absent). */
export function checkStepOptions(signal, onProgress) {
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new BadArgumentError('onProgress must be a function');
  }
  if (signal !== undefined && signal !== null && typeof signal.aborted !== 'boolean') {
    throw new BadArgumentError('signal must be an AbortSignal');
  }
}
