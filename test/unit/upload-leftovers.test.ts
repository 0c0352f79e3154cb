import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HOST_TAG, parseTemp, tempPathFor } from '../../src/recording/temp-files.js';
import { removeParts, removeUploaderLeftovers } from '../../src/upload/leftovers.js';
import { captureLog } from '../support/log-capture.js';

/** Which leftovers of uploaders count as their writer's: only a provably gone writer's go. */

const STALE_MS = 60_000;
const ELSEWHERE = HOST_TAG === '00000000' ? '11111111' : '00000000';

/** A pid that no process has now: one that ran and was reaped. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

test('temporary files in uploaded/ and failed/ go when their writer is provably gone, and only then', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-leftovers-'));
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const dead = deadPid();
    const old = new Date(Date.now() - 2 * STALE_MS);
    const files: Record<string, { name: string; old?: boolean }> = {
      deadHere: { name: `.a.json.${HOST_TAG}.${dead}.0badf00d.tmp` },
      liveHere: { name: `.b.json.${HOST_TAG}.${sleeper.pid}.0badf00d.tmp` },
      mine: { name: path.basename(tempPathFor(path.join(dir, 'c.json'))) },
      elsewhereFresh: { name: `.d.json.${ELSEWHERE}.${dead}.0badf00d.tmp` },
      elsewhereOld: { name: `.e.json.${ELSEWHERE}.${sleeper.pid}.0badf00d.tmp`, old: true },
      noHostFresh: { name: `.f.json.${dead}.0badf00d.tmp` },
      noHostOld: { name: `.g.json.${dead}.0badf00d.tmp`, old: true },
      reusedPidOld: { name: `.h.json.${HOST_TAG}.${sleeper.pid}.0badf00d.tmp`, old: true },
    };
    const finals = ['a.json', 'a.cast', 'a.cast.sig'];
    for (const sub of ['uploaded', 'failed']) {
      await fs.mkdir(path.join(dir, sub));
      for (const f of [...Object.values(files).map((x) => x.name), ...finals]) await fs.writeFile(path.join(dir, sub, f), '{"torn');
      for (const x of Object.values(files)) if (x.old) await fs.utimes(path.join(dir, sub, x.name), old, old);
      // Final files are never touched, however old.
      for (const f of finals) await fs.utimes(path.join(dir, sub, f), old, old);
    }
    assert.equal(parseTemp(files.mine!.name)?.host, HOST_TAG);
    const log = captureLog();
    const removed = await removeUploaderLeftovers(dir, STALE_MS, log.logger);
    const gone = ['deadHere', 'elsewhereOld', 'noHostOld', 'reusedPidOld'].map((k) => files[k]!.name);
    assert.deepEqual(removed.sort(), ['uploaded', 'failed'].flatMap((sub) => gone.map((f) => path.join(sub, f))).sort());
    for (const sub of ['uploaded', 'failed']) {
      const kept = Object.values(files).map((x) => x.name).filter((f) => !gone.includes(f));
      assert.deepEqual((await fs.readdir(path.join(dir, sub))).sort(), [...kept, ...finals].sort());
    }
    assert.deepEqual(log.lines.filter((l) => l.code === 'ERR_UPLOAD_LEFTOVER').map((l) => (l.files as string[]).sort()), [removed.sort()]);
  } finally {
    sleeper.kill();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a split\'s work directory goes at start only when its recording is no longer at the top and nothing touched it lately; at a claim, at once', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-leftovers-'));
  try {
    const old = new Date(Date.now() - 2 * STALE_MS);
    const now = Math.floor(Date.now() / 1000);
    for (const base of ['orphan', 'queued', 'claimed', 'fresh']) {
      await fs.mkdir(path.join(dir, '.parts', base), { recursive: true });
      await fs.writeFile(path.join(dir, '.parts', base, 'part-0001.cast'), 'x');
      if (base !== 'fresh') await fs.utimes(path.join(dir, '.parts', base), old, old);
    }
    await fs.writeFile(path.join(dir, 'queued.cast'), 'x');
    await fs.writeFile(path.join(dir, `claimed.cast.claim.${HOST_TAG}.${deadPid()}.abcdef.${now}`), 'x');
    const log = captureLog();
    assert.deepEqual(await removeUploaderLeftovers(dir, STALE_MS, log.logger), [path.join('.parts', 'orphan')]);
    assert.deepEqual((await fs.readdir(path.join(dir, '.parts'))).sort(), ['claimed', 'fresh', 'queued']);
    // The uploader that claims `claimed` is the only one who may write its parts now.
    await removeParts(dir, 'claimed', log.logger);
    await removeParts(dir, 'never-split', log.logger);
    assert.deepEqual((await fs.readdir(path.join(dir, '.parts'))).sort(), ['fresh', 'queued']);
    assert.deepEqual(log.lines.filter((l) => l.code === 'ERR_UPLOAD_LEFTOVER').map((l) => l.files), [[path.join('.parts', 'orphan')], [path.join('.parts', 'claimed')]]);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a directory that cannot be listed does not keep the uploader from starting', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teamssh-leftovers-'));
  try {
    await fs.writeFile(path.join(dir, 'uploaded'), 'a file where a directory should be');
    await fs.symlink('failed', path.join(dir, 'failed')); // ELOOP, even for root
    const log = captureLog();
    const removed = await removeUploaderLeftovers(dir, STALE_MS, log.logger);
    assert.deepEqual(removed, []);
    assert.ok(log.lines.some((l) => l.code === 'ERR_UPLOAD_LEFTOVER' && l.msg === 'could not look for files uploaders that are gone left behind'));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
