// Write page: the <gyre-generate> element (web/lib/elements/generate.js) with the site's shell.
// ?model=<name> picks a shipped model, ?max=N sets the number of characters, ?autorun generates once
// the engine is up.
import '../lib/elements/index.js';
import { $, renderShell, startElements } from './site.js';

renderShell('write.html');
const params = new URLSearchParams(location.search);
if (params.has('model')) $('write').setAttribute('model', `../../models/${params.get('model')}/`);
if (params.has('max')) $('write').setAttribute('max-tokens', params.get('max'));
startElements($('write'));
