import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';

// The README's performance table restates bench/results.md (the last full `npm run bench`) for
// readers who never open it. A new full run rewrites results.md; this fails until the README says
// the same. The focused runs (bench/results-*.md, `--only ... --out ...`) are cited with their
// dates; their figures live in their own files and in bench/README.md.

interface TargetRow {
  metric: string;
  teamssh: string;
  passed: boolean;
}

/** The rows of the results table that have a target, with teamssh's median and the verdict. */
function targetRows(results: string): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const line of results.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length !== 8 || !['PASS', 'FAIL'].includes(cells[7]!)) continue;
    rows.push({ metric: cells[0]!, teamssh: cells[4]!.split(' ')[0]!, passed: cells[7] === 'PASS' });
  }
  return rows;
}

test('the README performance section states the teamssh numbers and verdicts of bench/results.md and cites every focused run', async () => {
  const files = (await readdir('bench')).filter((f) => /^results(-[a-z0-9-]+)?\.md$/.test(f)).sort();
  assert.ok(files.includes('results.md') && files.length >= 4, `bench has its results files (${files.join(', ')})`);
  const readme = await readFile('README.md', 'utf8');
  const results = await Promise.all(files.map((f) => readFile(`bench/${f}`, 'utf8')));
  const start = readme.indexOf('\n## Performance\n');
  assert.ok(start >= 0, 'the README has a "Performance" section');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  for (const [i, r] of results.entries()) assert.ok(targetRows(r).length >= 2, `bench/${files[i]} has rows with targets`);
  const rows = targetRows(results[files.indexOf('results.md')]!);
  for (const f of files) assert.ok(section.includes(`bench/${f}`), `the README's performance section cites bench/${f}`);
  for (const r of rows) assert.ok(section.includes(r.teamssh), `${r.metric}: teamssh's ${r.teamssh} is not in the README`);
  const verdicts = [...section.matchAll(/\| (met|\*\*missed\*\*(?: \([^)|]*\))?) \|$/gm)].map((m) => m[1]);
  assert.equal(verdicts.filter((v) => v === 'met').length, rows.filter((r) => r.passed).length, 'targets met');
  assert.equal(verdicts.filter((v) => v !== 'met').length, rows.filter((r) => !r.passed).length, 'targets missed');
  for (const r of results) {
    const run = /^Run (\d{4}-\d{2}-\d{2})/m.exec(r)?.[1];
    assert.ok(run && section.includes(run), `the README names the run of ${run}`);
  }
});
