import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ERROR_CODES } from '../../src/errors.js';

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('every error code the code uses is in the catalogue, and every catalogued code is used', async () => {
  const used = new Set<string>();
  for (const file of await sources('src')) {
    if (file === path.join('src', 'errors.ts')) continue;
    for (const m of (await readFile(file, 'utf8')).matchAll(/'(ERR_[A-Z0-9_]+)'/g)) used.add(m[1]!);
  }
  const catalogued = new Set(Object.keys(ERROR_CODES));
  assert.deepEqual([...used].filter((c) => !catalogued.has(c)).sort(), [], 'codes missing from src/errors.ts');
  assert.deepEqual([...catalogued].filter((c) => !used.has(c)).sort(), [], 'catalogued codes nothing uses');
  for (const code of catalogued) assert.doesNotMatch(code, /^TEAMSSH_/, 'an error code must not look like a setting');
});
