import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { SETTINGS } from '../../src/config/settings.js';

// The README's configuration reference is what operators read: it must not drift from the code.
test('the README documents every setting by its variable and file key', async () => {
  const readme = await readFile('README.md', 'utf8');
  for (const s of SETTINGS) {
    assert.match(readme, new RegExp(`\\| \`${s.env}\` \\| \`${s.path.replace('.', '\\.')}\` \\|`), `${s.env} (${s.path}) missing from the README table`);
  }
});

test('the README opens with the run command and the test command that .ci/run uses', async () => {
  const readme = await readFile('README.md', 'utf8');
  const ci = await readFile('.ci/run', 'utf8');
  const blocks = [...readme.matchAll(/```sh\n([^\n]+)\n```/g)].map((m) => m[1]!);
  assert.ok(blocks[0]?.includes('npm start'), 'first command runs teamssh');
  assert.ok(blocks[1]?.includes('npm test'), 'second command runs the tests');
  assert.ok(ci.includes(blocks[1]!), '.ci/run runs the README test command');
});
