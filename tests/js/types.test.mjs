// The hand-written declarations (web/lib/index.d.ts, web/lib/elements/index.d.ts) against a usage
// file: `tsc --noEmit --strict` on tests/types/usage.ts, which imports 'gyre' and 'gyre/elements'
// by the package's name, so the exports map's "types" conditions resolve as they do for a user.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = `${ROOT}node_modules/typescript/bin/tsc`;

// typescript is a devDependency: `npm ci` installs it (CI always has it). A checkout sharing an
// older node_modules is told so instead of failing, outside CI only.
const missing = !existsSync(TSC) && !process.env.CI;

test('index.d.ts and elements/index.d.ts type-check a usage file under --strict', { skip: missing &&
  'typescript is not installed in node_modules: run `npm install`' }, async () => {
  const run = await promisify(execFile)(process.execPath,
    [TSC, '-p', 'tests/types', '--noEmit', '--strict'], { cwd: ROOT }).catch((error) => error);
  assert.equal(run.code ?? 0, 0, `tsc reported:\n${run.stdout}${run.stderr}`);
});
