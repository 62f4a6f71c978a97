// Benchmark page: the <gyre-benchmark> element (web/lib/elements/benchmark.js) with the site's shell.
// ?budget=N sets the milliseconds per kernel; ?autorun runs it once the engine is up.
import '../lib/elements/index.js';
import { $, renderShell, startElements } from './site.js';

renderShell('bench.html');
const params = new URLSearchParams(location.search);
if (params.has('budget')) $('bench').setAttribute('budget', params.get('budget'));
startElements($('bench'));
