import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { splitCast } from '../../src/upload/split.js';
import { timeText } from '../../src/recording/json-text.js';

/**
 * The splitter reads and writes event times without decoding lines or formatting doubles
 * (both per line, twice); these fast paths must give exactly what Number() and String() give.
 */

test('timeText writes what String(micros / 1e6) writes, for every integer it handles and the ones it hands back', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
  const cases = [0, -0, 1, 9, 10, 100_000, 999_999, 1_000_000, 1_000_001, 1_234_500, 86_400_000_000, 1e15 - 1, 1e15, 2 ** 53, -1, -2_500_000, 0.5, 3.5];
  for (let i = 0; i < 200_000; i++) cases.push(Math.floor(rnd() * 10 ** Math.floor(rnd() * 16)));
  for (const m of cases) assert.equal(timeText(m), String(m / 1e6), `micros ${m}`);
});

test('event times in any form the reader accepts are rebased as Number() reads them', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-split-t-'));
  try {
    const times = ['100.25', '100.5', '101', '101.000001', '101.1234567', '1.02e2', ' 103.5 ', '104.000000', '0104.5', '105.', '106.123456'];
    const lines = times.map((t, i) => `[${t}, "o", "${i}"]`);
    // `105.` is not a number: that line is kept as it is.
    const file = path.join(dir, 'r.cast');
    await fs.writeFile(file, `${JSON.stringify({ version: 2, width: 80, height: 24, title: 't' })}\n${lines.join('\n')}\n`);
    const { parts } = await splitCast({ file, workDir: path.join(dir, 'parts'), limit: 1_000_000 });
    assert.equal(parts.length, 1);
    const out = (await fs.readFile(parts[0]!.path, 'utf8')).split('\n').slice(1, -1);
    const t0 = Number(times[0]);
    times.forEach((t, i) => {
      if (t === '105.') return assert.equal(out[i], lines[i]);
      const want = Math.round((Number(t.trim()) - t0) * 1e6) / 1e6;
      assert.equal(out[i], `[${want}, "o", "${i}"]`, `time ${JSON.stringify(t)}`);
    });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
