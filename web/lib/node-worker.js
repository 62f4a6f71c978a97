// Node has no Web Worker: this wraps worker_threads.Worker in the part of the Web Worker interface
// the threaded Emscripten glue uses (onmessage, onerror, postMessage, terminate), so the glue can
// be built for browsers only (-sENVIRONMENT=web,worker) and still start its pthreads in Node.
// Each worker runs node-worker-boot.js, which gives the glue's worker script (gyre-*.worker.js)
// the worker globals it expects, then imports it.
import { Worker as NodeThread } from 'node:worker_threads';

const BOOT = new URL('./node-worker-boot.js', import.meta.url);

// Workers inherit the process's options, but --input-type (a script run with -e) stops them from
// starting. Without it, an explicit list may hold Node options only: V8's (such as
// --experimental-wasm-relaxed-simd) are rejected there, and apply to every thread anyway.
const WORKER_EXEC_ARGV = process.execArgv.some((arg) => arg.startsWith('--input-type'))
  ? { execArgv: process.execArgv.filter((arg) => !arg.startsWith('--input-type') && !/^--(no-)?(experimental-)?wasm/.test(arg)) }
  : {};

/**
 * A Web Worker made of a Node worker thread; `onError` hears errors the glue would rethrow, and
 * each worker is added to `started`.
 */
export function nodeWorkerClass(onError, started) {
  return class NodeWebWorker {
    #thread;

    constructor(url) {
      this.#thread = new NodeThread(BOOT, { workerData: { script: String(url) }, ...WORKER_EXEC_ARGV });
      started.push(this);
      this.#thread.on('message', (data) => {
        // Once the worker has loaded the module it only runs pthreads the engine starts: it must
        // not keep a Node process alive whose script has finished (idle pthreads wait forever).
        if (data?.cmd === 'loaded') this.#thread.unref();
        this.onmessage?.({ data });
      });
      this.#thread.on('error', (error) => {
        onError(error);
        // The glue's handler logs the error and rethrows it, which in Node would end the process.
        try { this.onerror?.(error); } catch { /* reported through onError */ }
      });
    }

    postMessage(message, transfer) { this.#thread.postMessage(message, transfer); }

    terminate() { this.#thread.terminate(); }
  };
}
