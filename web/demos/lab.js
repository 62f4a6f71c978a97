// Length extrapolation lab: the <gyre-length-lab> element (web/lib/elements/length-lab.js) with the
// site's shell. ?model=<name>, ?length=N and ?texts=N preset it; ?autorun runs it once the engine is up.
import '../lib/elements/index.js';
import { $, renderShell, startElements } from './site.js';

renderShell('lab.html');
const lab = $('lab');
const params = new URLSearchParams(location.search);
if (params.has('model')) lab.setAttribute('model', `../../models/${params.get('model')}/`);
if (params.has('length')) lab.setAttribute('length', params.get('length'));
if (params.has('texts')) lab.setAttribute('texts', params.get('texts'));
startElements(lab);
