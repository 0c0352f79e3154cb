import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LIVE_DIR } from '../src/recording/recordings-dir.js';
import type { ClientKey } from './openssh.js';
import { startFakes, startTeamssh, BENCH_LOGIN, type RunningTeamssh } from './teamssh.js';
import * as m from './measure.js';
import { medianCell, valueCell, type Row } from './report.js';
import { nowMs, ratio, summarize } from './stats.js';
import { Redactor } from '../src/recording/redactor.js';
import { BUILTIN_RULES, operatorRules } from '../src/recording/redact-rules.js';

/**
 * What recording redaction costs, on teamssh alone (OpenSSH redacts nothing): the pty
 * throughput workload (`ssh -tt 'seq 1 N'`) against three servers, runs alternating between
 * them: redaction off (TEAMSSH_REDACT=false), on with the built-in rules (the default), and
 * on with two operator patterns (which hold back the last 256 characters of each read). Plus
 * the redactor alone, in this process, on coloured text full of escape sequences, its slow path.
 */
export interface RedactionPlan {
  seqN: number;
  runs: number;
}

const VARIANTS = ['off', 'builtin', 'patterns'] as const;
type Variant = (typeof VARIANTS)[number];

async function startVariant(dir: string, key: ClientKey, account: string, variant: Variant): Promise<{ server: RunningTeamssh; stop: () => Promise<void> }> {
  const fakes = await startFakes(key.publicLine);
  const env: Record<string, string> = { TEAMSSH_UPLOAD: 'false' };
  if (variant === 'off') env.TEAMSSH_REDACT = 'false';
  if (variant === 'patterns') {
    const file = path.join(dir, `patterns-${variant}`);
    await writeFile(file, 'npm = npm_[A-Za-z0-9]{36}\nslack = xox[abpr]-[A-Za-z0-9-]{10,72}\n');
    env.TEAMSSH_REDACT_PATTERNS = file;
  }
  const server = await startTeamssh({ dir: path.join(dir, variant), fakes, account, env });
  return {
    server,
    async stop() {
      await server.stop();
      await fakes.stop();
    },
  };
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat (clock ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The redactor alone: MB/s of `ls --color`-like output (an escape sequence every few characters). */
function redactorAlone(rules = BUILTIN_RULES): { plain: number; coloured: number } {
  const line = (i: number) => `\x1b[01;34mdir-${i}\x1b[0m  \x1b[01;32mrun-${i}.sh\x1b[0m  notes-${i}.txt  é中\r\n`;
  const coloured = Buffer.from(Array.from({ length: 400 }, (_, i) => line(i)).join(''));
  const plain = Buffer.from(Array.from({ length: 4000 }, (_, i) => `${i}\r\n`).join(''));
  const rate = (chunk: Buffer) => {
    const r = new Redactor(rules, () => {});
    const total = 200 * 1024 * 1024;
    const start = nowMs();
    for (let done = 0; done < total; done += chunk.length) r.write(chunk, 0);
    r.end(0);
    return total / 1e6 / ((nowMs() - start) / 1000);
  };
  return { plain: rate(plain), coloured: rate(coloured) };
}

/** Waits until the recordings directory holds a finished .cast (the session's recording is final). */
async function waitForCast(dir: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await readdir(dir)).some((f) => f.endsWith('.cast'))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Measures and appends the rows; the servers are started and stopped here. */
export async function measureRedaction(dir: string, account: string, key: ClientKey, plan: RedactionPlan, rows: Row[], notes: string[]): Promise<void> {
  const running = new Map<Variant, { server: RunningTeamssh; stop: () => Promise<void> }>();
  try {
    for (const v of VARIANTS) running.set(v, await startVariant(dir, key, account, v));
    const secs = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    const cpu = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    for (const v of VARIANTS) await m.ssh({ name: v, port: running.get(v)!.server.port, user: BENCH_LOGIN }, key, ['true'], 30_000);
    for (let run = 0; run < plan.runs; run++) {
      // Rotated each run, so a drifting machine favours no variant.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + run) % VARIANTS.length]!);
      for (const v of order) {
        const { server } = running.get(v)!;
        const cpuBefore = await cpuSeconds(server.pid);
        const r = await m.ptyThroughput({ name: v, port: server.port, user: BENCH_LOGIN }, key, plan.seqN);
        // The recording is finished after the client saw its exit status: wait for it before reading the CPU used.
        await waitForCast(server.recordingsDir);
        const used = (await cpuSeconds(server.pid)) - cpuBefore;
        secs.get(v)!.push(r.seconds);
        cpu.get(v)!.push(used);
        process.stderr.write(`bench: redaction ${v} run ${run + 1}: ${r.seconds.toFixed(2)} s, server CPU ${used.toFixed(2)} s\n`);
        // The recordings are not uploaded here; remove them so the disk does not fill.
        // live/ stays: the server's own directory for live sessions, whose last file may still be
        // going away as the .cast appears (removing it raced: ENOTEMPTY).
        for (const f of await readdir(server.recordingsDir)) if (f !== LIVE_DIR) await rm(path.join(server.recordingsDir, f), { recursive: true, force: true });
      }
    }
    const [off, builtin, patterns] = VARIANTS.map((v) => summarize(secs.get(v)!));
    const workload = `ssh -tt 'seq 1 ${plan.seqN}', ${(m.seqBytes(plan.seqN) / 1e6).toFixed(1)} MB`;
    // Throughput relative to redaction off: time(off) / time(on); 0.95 is a 5% cost.
    const rel = ratio(off!.median, builtin!.median);
    rows.push({ metric: `redaction: pty throughput, off (${workload})`, unit: 's', teamssh: medianCell(off!), target: '–' });
    rows.push({
      metric: `redaction: pty throughput, on with the built-in rules (${workload})`, unit: 's', teamssh: medianCell(builtin!),
      ratio: `${rel.toFixed(3)}× off`, target: '≥ 0.95× off (cost < 5%)', pass: Number.isFinite(rel) ? rel >= 0.95 : undefined,
    });
    // Wall time on a shared machine swings with the other load; the server's own CPU time per run is steadier.
    const [cOff, cBuiltin, cPatterns] = VARIANTS.map((v) => summarize(cpu.get(v)!));
    const cRel = ratio(cBuiltin!.median, cOff!.median);
    rows.push({ metric: `redaction: server CPU per run, off (${workload})`, unit: 's', teamssh: medianCell(cOff!), target: '–' });
    rows.push({
      metric: `redaction: server CPU per run, on with the built-in rules (${workload})`, unit: 's', teamssh: medianCell(cBuiltin!),
      ratio: `${cRel.toFixed(3)}× off`, target: '≤ 1.05× off', pass: Number.isFinite(cRel) ? cRel <= 1.05 : undefined,
    });
    rows.push({ metric: `redaction: server CPU per run, on with built-in rules + 2 operator patterns (${workload})`, unit: 's', teamssh: medianCell(cPatterns!), ratio: `${ratio(cPatterns!.median, cOff!.median).toFixed(3)}× off`, target: '–' });
    const relP = ratio(off!.median, patterns!.median);
    rows.push({ metric: `redaction: pty throughput, on with built-in rules + 2 operator patterns (${workload})`, unit: 's', teamssh: medianCell(patterns!), ratio: `${relP.toFixed(3)}× off`, target: '–' });
    const alone = redactorAlone();
    const aloneP = redactorAlone([...BUILTIN_RULES, ...operatorRules([{ name: 'npm', source: 'npm_[A-Za-z0-9]{36}' }])]);
    rows.push({ metric: 'redaction: redactor alone, built-in rules: `seq`-like text / `ls --color`-like text', unit: 'MB/s', teamssh: valueCell(alone.plain), ratio: `${alone.plain.toFixed(0)} / ${alone.coloured.toFixed(0)} MB/s`, target: '–' });
    rows.push({ metric: 'redaction: redactor alone, with an operator pattern: `seq`-like / `ls --color`-like', unit: 'MB/s', teamssh: valueCell(aloneP.plain), ratio: `${aloneP.plain.toFixed(0)} / ${aloneP.coloured.toFixed(0)} MB/s`, target: '–' });
    notes.push(`redaction: ${plan.runs} runs per variant, rotating the order each run; recordings are written but not uploaded (TEAMSSH_UPLOAD=false). The redactor-alone rows feed 200 MB in 4 to 14 KiB chunks in the bench process.`);
  } finally {
    for (const r of running.values()) await r.stop().catch(() => undefined);
  }
}
