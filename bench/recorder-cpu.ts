import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Recorder } from '../src/recording/recorder.js';
import { BUILTIN_RULES } from '../src/recording/redact-rules.js';
import { loadSigningKey } from '../src/recording/signing-key.js';
import { splitCast } from '../src/upload/split.js';
import { checkSourceSignature } from '../src/upload/upload-signature.js';

/**
 * The recording side alone, in this process: CPU seconds (user + system, all threads) per GB
 * of `seq` pty output fed through the real Recorder (signed, with the built-in redaction
 * rules, as a server runs by default) in 4-32 KiB chunks, then the uploader's per-recording
 * work on the result (split into 8 MB parts with digests, the whole checked against its
 * `.sig`). No ssh, no sockets: before/after numbers of recording changes without the wire's
 * noise. Run: `node dist/bench/recorder-cpu.js [MB] [runs] [chunk]` (default 120 MB, 3 runs,
 * chunks of 4-32 KiB; a `chunk` in bytes feeds pieces of that one size instead, to see the
 * per-event costs that dominate when the pty hands over short reads).
 */

/** `seq 1 N` as a pty shows it (`\r\n` line ends), at least `mb` MB. */
function seqOutput(mb: number): Buffer {
  const out = Buffer.allocUnsafe(mb * 1e6 + 32);
  let p = 0;
  for (let i = 1; p < mb * 1e6; i++) p += out.write(`${i}\r\n`, p, 'latin1');
  return out.subarray(0, p);
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function oneRun(dir: string, data: Buffer, run: number, size: number): Promise<{ record: number; upload: number }> {
  const key = await loadSigningKey(path.join(dir, 'signing_key'));
  const name = `run${run}`;
  const t0 = cpuSeconds();
  const rec = await Recorder.create({ dir, name, width: 80, height: 24, timestamp: 1_800_000_000, title: 'bench', env: {}, recordInput: false, signing: { key }, redact: BUILTIN_RULES });
  // A fixed pseudo-random sequence of chunk sizes, 4-32 KiB, like the pty coalescer hands over.
  let seed = 12345;
  for (let at = 0; at < data.length; ) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const n = size > 0 ? size : 4096 + (seed % (28 * 1024));
    // Views, not copies: the pty's own Buffers are the wire side's cost, not the recorder's.
    const chunk = data.subarray(at, at + n);
    at += n;
    if (!rec.output(chunk)) await rec.drained();
  }
  await rec.finish();
  const t1 = cpuSeconds();
  const split = await splitCast({ file: rec.castPath, workDir: path.join(dir, `.parts-${run}`), limit: 8_000_000, digests: true, wholeHash: 'sha256' });
  const source = await checkSourceSignature(dir, name, async () => split.whole!.digest, key);
  if (source.state !== 'signed') throw new Error(`signature check: ${source.state}`);
  const t2 = cpuSeconds();
  return { record: t1 - t0, upload: t2 - t1 };
}

async function main(): Promise<void> {
  const mb = Number(process.argv[2] ?? 120);
  const runs = Number(process.argv[3] ?? 3);
  const chunk = Number(process.argv[4] ?? 0);
  const data = seqOutput(mb);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-reccpu-'));
  try {
    const rec: number[] = [];
    const up: number[] = [];
    for (let run = 0; run < runs; run++) {
      const r = await oneRun(dir, data, run, chunk);
      const gb = data.length / 1e9;
      rec.push(r.record / gb);
      up.push(r.upload / gb);
      process.stdout.write(`run ${run + 1}: recorder ${(r.record / gb).toFixed(2)} s/GB, upload split+check ${(r.upload / gb).toFixed(2)} s/GB\n`);
      await rm(path.join(dir, `run${run}.cast`), { force: true });
    }
    const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!;
    process.stdout.write(`median of ${runs} (${(data.length / 1e6).toFixed(0)} MB, ${chunk > 0 ? `${chunk}-byte` : '4-32 KiB'} chunks): recorder ${med(rec).toFixed(2)} s/GB, upload ${med(up).toFixed(2)} s/GB\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
