// Vite builds the app into dist-vite/ (npx vite build): it bundles Gyre's engine worker and copies
// the .wasm files it references with new URL(..., import.meta.url) by itself.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',  // relative URLs: the app works under any subpath
  build: { outDir: 'dist-vite', target: 'es2022' },
  // The engine worker loads the wasm glue on demand (code splitting), which needs ES module workers.
  worker: { format: 'es' },
  define: { GYRE_ASSETS: '{}' },
});
