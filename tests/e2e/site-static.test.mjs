// The same end-to-end checks against the static folder npm run build:site makes (built here into a
// temporary directory and served as plain files).
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
});

after(async () => { if (folder) await rm(folder, { recursive: true, force: true }); });
