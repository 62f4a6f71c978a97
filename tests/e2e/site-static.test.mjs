// The same end-to-end checks against the static folder npm run build:site makes (built here into a
// temporary directory and served as plain files), as a GitHub Pages project site would serve it:
// under a subpath (/gyre/) and without COOP/COEP headers (no cross-origin isolation).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { siteSuite } from './site-checks.mjs';

const buildScript = fileURLToPath(new URL('../../scripts/build-site.mjs', import.meta.url));
let folder;

siteSuite('site-static', {
  async root() {
    folder = await mkdtemp(join(tmpdir(), 'gyre-site-'));
    const out = join(folder, 'site');
    await promisify(execFile)(process.execPath, [buildScript, '--out', out]);
    return out;
  },
  base: '/gyre/',
  isolation: false,
});

after(async () => { if (folder) await rm(folder, { recursive: true, force: true }); });
