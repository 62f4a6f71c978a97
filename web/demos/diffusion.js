// Diffusion page: the <gyre-diffusion> element (web/lib/elements/diffusion.js) with the site's shell.
// ?count=N, ?steps=N and ?seed=N preset it; ?autorun samples once the engine is up.
import '../lib/elements/index.js';
import { $, renderShell, startElements } from './site.js';

renderShell('diffusion.html');
const element = $('diffusion');
const params = new URLSearchParams(location.search);
for (const key of ['count', 'steps', 'seed']) if (params.has(key)) element.setAttribute(key, params.get(key));
startElements(element);
