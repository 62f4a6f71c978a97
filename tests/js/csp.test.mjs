// The shipped JavaScript (web/lib and the Emscripten glue in web/lib/wasm) generates no code at run
// time, so the engine runs under a Content-Security-Policy without 'unsafe-eval' (the glue is
// linked with -sDYNAMIC_EXECUTION=0; tests/e2e/ runs the site under such a policy in Chromium).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const LIB = fileURLToPath(new URL('../../web/lib/', import.meta.url));
// new Function(...), Function('...'), eval(...), and timers given a string of code.
const CODE_GENERATION = /\bnew\s+Function\s*\(|(?<![.\w$])Function\s*\(|(?<![.\w$])eval\s*\(|\bset(?:Timeout|Interval)\s*\(\s*['"`]/;

async function scripts(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...await scripts(path));
    else if (/\.m?js$/.test(entry.name)) found.push(path);
  }
  return found;
}

test('no run-time code generation in web/lib or the wasm glue', async () => {
  const files = await scripts(LIB);
  const glue = files.filter((path) => path.includes(`${join('wasm', 'gyre-')}`));
  assert.ok(glue.length >= 1, 'no wasm glue in web/lib/wasm: build first (npm run build)');
  for (const path of files) {
    const text = await readFile(path, 'utf8');
    const match = text.match(CODE_GENERATION);
    assert.equal(match, null, `${path}: ${match && text.slice(Math.max(0, match.index - 60), match.index + 60)}`);
  }
});
