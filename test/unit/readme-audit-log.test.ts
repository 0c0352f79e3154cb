import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

// Operators and reviewers build alerts on the audit log's `event` and reason values, and they
// learn them from the README. Every such value the code can emit must be in the README's
// "Audit log" section, whichever file of src/ emits it.

async function sources(): Promise<string> {
  const files = (await readdir('src', { recursive: true })).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 10, 'src/ holds the TypeScript sources');
  const texts = await Promise.all(files.map((f) => readFile(path.join('src', f), 'utf8')));
  return texts.join('\n');
}

async function auditSection(): Promise<string> {
  const readme = await readFile('README.md', 'utf8');
  const start = readme.indexOf('\n## Audit log\n');
  assert.ok(start >= 0, 'the README has an "Audit log" section');
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** Every value the code logs as an `event`, a `reason`, or a member of a `…Reason`/`…Problem` union type. */
function emittedValues(code: string): Map<string, string> {
  const found = new Map<string, string>();
  const add = (kind: string, re: RegExp) => {
    for (const m of code.matchAll(re)) found.set(m[1]!, kind);
  };
  add('event', /\bevent:\s*'([a-z_]+)'/g);
  add('reason', /\b(?:reason|endReason):\s*'([a-z_]+)'/g);
  // Reasons handed positionally to a refuse(message, reason) helper.
  add('reason', /\brefuse\((?:'[^']*'|`[^`]*`),\s*'([a-z_]+)'\)/g);
  for (const m of code.matchAll(/export type (\w*(?:Reason|Problem))\s*=\s*([^;]+);/g)) {
    for (const lit of m[2]!.matchAll(/'([a-z_]+)'/g)) found.set(lit[1]!, m[1]!);
  }
  return found;
}

test('the README audit log lists every event and reason value the code emits', async () => {
  const values = emittedValues(await sources());
  // Guards against the scan silently finding nothing after a refactoring.
  for (const known of ['session_end', 'auth_refused', 'internal_error', 'spawn_failed', 'refused', 'not_member']) {
    assert.ok(values.has(known), `the scan of src/ finds ${known}`);
  }
  const section = await auditSection();
  const missing = [...values].filter(([v]) => !section.includes(`\`${v}\``)).map(([v, kind]) => `${v} (${kind})`);
  assert.deepEqual(missing, [], 'values the code emits but the README audit log does not name');
});

test('the scan finds event names, reasons and union members, and nothing else', () => {
  const code = [
    "log.info({ event: 'thing_done', n: 1 }, 'x');",
    "refuse(ctx, { reason: 'bad_thing', detail });",
    "this.refuse(`too many (limit ${n})`, 'too_many');",
    "export type FooReason = 'one' | 'two';",
    "const other = { kind: 'not_this' };",
  ].join('\n');
  assert.deepEqual([...emittedValues(code).keys()].sort(), ['bad_thing', 'one', 'thing_done', 'too_many', 'two']);
});
