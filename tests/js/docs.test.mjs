// Every citation of the spec in the sources (`docs/ALGORITHMS.md §3.4`, `§2.3 and §7`, `§3.2–3.3`)
// names a section that docs/ALGORITHMS.md has, so a reader of the repository can follow each one.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCES = ['engine', 'web/lib', 'web/demos', 'tests', 'bench', 'README.md', 'docs'];

async function files(path) {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => null);
  if (!entries) return [path];
  const found = [];
  for (const entry of entries) {
    if (entry.name === 'node_modules' || entry.name === 'wasm') continue;
    found.push(...await files(join(path, entry.name)));
  }
  return found;
}

test('every docs/ALGORITHMS.md §n citation names a section of docs/ALGORITHMS.md', async () => {
  const spec = await readFile(join(ROOT, 'docs/ALGORITHMS.md'), 'utf8');
  const sections = new Set([...spec.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)].map((m) => m[1]));
  assert.ok(sections.has('1') && sections.has('8.3'), 'docs/ALGORITHMS.md lost its numbered sections');
  let citations = 0;
  for (const root of SOURCES) {
    for (const path of await files(join(ROOT, root))) {
      if (!/\.(h|cpp|js|mjs|html|md|py)$/.test(path)) continue;
      const text = await readFile(path, 'utf8');
      // "docs/ALGORITHMS.md §2.3 and §7", "§3.2–3.3, §5": the § numbers right after the path.
      for (const cite of text.matchAll(/docs\/ALGORITHMS\.md((?:[ ,]*(?:and )?§\d+(?:\.\d+)?(?:[–-]\d+(?:\.\d+)?)?)+)/g)) {
        for (const [, number] of cite[1].matchAll(/(\d+(?:\.\d+)?)/g)) {
          citations++;
          assert.ok(sections.has(number), `${relative(ROOT, path)} cites docs/ALGORITHMS.md §${number}, which it lacks`);
        }
      }
    }
  }
  assert.ok(citations >= 30, `only ${citations} citations found: is the pattern still right?`);
});
