import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Keeps the benchmark from rotting: `bench/run.js --quick` must start every target, measure
 * every metric and write a table with a number in each metric's row, without touching
 * bench/results.md.
 */

const RUN = fileURLToPath(new URL('../../bench/run.js', import.meta.url));

// One entry per metric the bench reports; the column that must hold a number.
const EXPECTED: Array<{ row: RegExp; columns: Array<'openssh' | 'seed' | 'teamssh'> }> = [
  { row: /^RSS idle$/, columns: ['teamssh'] },
  { row: /^RSS per idle session$/, columns: ['teamssh'] },
  { row: /^auth decision p50/, columns: ['teamssh'] },
  { row: /^auth decision p99/, columns: ['teamssh'] },
  { row: /^connection rate/, columns: ['openssh', 'teamssh'] },
  { row: /^login latency p50 \(/, columns: ['openssh', 'teamssh'] },
  { row: /^login latency p99 \(/, columns: ['openssh', 'teamssh'] },
  { row: /^post-quantum login latency p50 \(OpenSSH 10 client, default kex: teamssh mlkem768x25519-sha256/, columns: ['openssh', 'teamssh'] },
  { row: /^post-quantum connection rate/, columns: ['openssh', 'teamssh'] },
  { row: /^pty throughput/, columns: ['openssh', 'seed', 'teamssh'] },
  { row: /^server CPU per GB of pty output/, columns: ['openssh', 'teamssh'] },
  { row: /^server CPU per GB while the session streams/, columns: ['openssh', 'teamssh'] },
  { row: /^keystroke echo latency p99/, columns: ['openssh', 'teamssh'] },
  { row: /^RSS per idle session, \d+ sessions/, columns: ['openssh', 'teamssh'] },
  { row: /^recording on server after session end p50/, columns: ['teamssh'] },
  { row: /^backlog drain \(/, columns: ['teamssh'] },
  { row: /^redaction: pty throughput, on with the built-in rules/, columns: ['teamssh'] },
];
const COLUMN = { openssh: 2, seed: 3, teamssh: 4 } as const;

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('bench --quick measures every metric and writes the table to --out', { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-bench-test-'));
  const results = fileURLToPath(new URL('../../../bench/results.md', import.meta.url));
  const before = await readFile(results, 'utf8').catch(() => undefined);
  try {
    const out = path.join(dir, 'results.md');
    const r = await run(['--quick', '--out', out], 200_000);
    assert.equal(r.code, 0, `bench exited ${r.code}\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-3000)}`);
    const text = await readFile(out, 'utf8');
    assert.match(text, /machine: \d+ CPUs/);
    assert.match(text, /OpenSSH_/);
    // The connection-rate runs measure warmed servers; the note names the warm-up runs' rates.
    assert.match(text, /connection rate: each target first served one untimed run of \d+ logins \(warm-up: openssh [\d.]+\/s, teamssh [\d.]+\/s\)/);
    const rows = text.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| metric')).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
    for (const { row, columns } of EXPECTED) {
      const found = rows.find((cells) => row.test(cells[0] ?? ''));
      assert.ok(found, `no row matching ${row} in:\n${text}`);
      for (const col of columns) {
        const value = Number.parseFloat(found[COLUMN[col]] ?? '');
        assert.ok(Number.isFinite(value), `row ${found[0]}: ${col} is "${found[COLUMN[col]]}", not a number`);
      }
      assert.match(found[7] ?? '', /^(PASS|FAIL|info)$/, `row ${found[0]} has no result`);
    }
    assert.equal(await readFile(results, 'utf8').catch(() => undefined), before, 'a quick run must not rewrite bench/results.md');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
