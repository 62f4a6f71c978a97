// First script of a Node worker thread standing in for a Web Worker (node-worker.js): sets up the
// globals the Emscripten pthread worker script uses, then imports it. Messages that arrive while
// it loads are replayed once it has installed its onmessage.
import { parentPort, workerData } from 'node:worker_threads';

const early = [];
Object.assign(globalThis, {
  self: globalThis,
  location: new URL(workerData.script),
  postMessage: (message, transfer) => parentPort.postMessage(message, transfer),
  // Marks this as a worker environment to the glue; the module is imported, never loaded by it.
  importScripts: () => { throw new Error('importScripts is not available in Gyre\'s Node workers'); },
});
parentPort.on('message', (data) => {
  if (typeof globalThis.onmessage === 'function') globalThis.onmessage({ data });
  else early.push(data);
});
await import(workerData.script);
for (const data of early.splice(0)) globalThis.onmessage({ data });
