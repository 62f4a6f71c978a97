// Runs inside the threaded module's factory. The glue starts its pthread workers with
// `new Worker(url)`: take the class the loader passes (Node's worker_threads wrapped as a Web
// Worker by web/lib/node-worker.js, or the browser's Worker watched for load errors), else the
// runtime's own.
var Worker = Module['gyreWorker'] || globalThis.Worker;
