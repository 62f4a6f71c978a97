// Gyre's drop-in custom elements (the package's `gyre/elements` entry). One module script registers
// them all:
//
//   <script type="module" src="/node_modules/gyre/web/lib/elements/index.js"></script>
//   <gyre-generate model="/models/gau-lm-softmax-plus/"></gyre-generate>
//
// Every element runs the page's one shared engine in a Web Worker (hub.js), styles itself in its
// shadow root from --gyre-* custom properties (styles.js), and shows its errors inside itself.
export { configure, engineConfiguration, hubStatus, restartEngine } from './hub.js';
export { GyreElement } from './base.js';
export { GyreGenerate } from './generate.js';
export { GyreLengthLab } from './length-lab.js';
export { GyreDiffusion } from './diffusion.js';
export { GyreBenchmark } from './benchmark.js';
