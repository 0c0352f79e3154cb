import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureTestAccount } from '../test/support/accounts.js';
import { liveDirOf } from '../src/recording/recordings-dir.js';
import { makeClientKey, startSshd, unlockForPublicKeys, type ClientKey, type RunningSshd } from './openssh.js';
import { startFakes, startTeamssh, startUploaderCli, BENCH_LOGIN, type Fakes, type RunningTeamssh } from './teamssh.js';
import * as m from './measure.js';
import { measureRevocation, type RevocationPlan } from './revocation.js';
import { measureRedaction } from './redaction.js';
import { measureJump } from './jump.js';
import { environment, fmt, medianCell, page, table, valueCell, type Row } from './report.js';
import { postQuantumTargets, measurePostQuantum } from './post-quantum.js';
import { nowMs, ratio, summarize } from './stats.js';
import { measurePtyCpu } from './pty-cpu.js';
import { measureEchoUnderLoad, type EchoPlan } from './echo-load.js';

/**
 * `npm run bench`: starts OpenSSH, the seed pipeline (sshd + asciinema rec) and teamssh on
 * 127.0.0.1, measures them with the same ssh client, and writes bench/results.md.
 * Flags: --quick (small counts, one run each), --out FILE, --only conn,latency,pq,pty,memory,auth,upload,backlog,revocation,redaction,jump,
 * --profile DIR (teamssh runs under `node --cpu-prof`; the profile lands in DIR when the run ends).
 */

const METRICS = ['memory', 'auth', 'conn', 'latency', 'pq', 'pty', 'cpu', 'echo', 'upload', 'backlog', 'revocation', 'redaction', 'jump'] as const;
type Metric = (typeof METRICS)[number];

/** Counts for one mode. */
interface Plan {
  conns: number; concurrency: number; connRuns: number; latencyCount: number; seqN: number; ptyRuns: number;
  idleSessions: number; members: number; authSamples: number; uploadCount: number; backlog: number; limitMs: number;
  revocation: RevocationPlan;
  cpuSeqN: number; cpuRuns: number; echo: EchoPlan;
}

const FULL: Plan = {
  conns: 400, concurrency: 20, connRuns: 5, latencyCount: 100, seqN: 10_000_000, ptyRuns: 3,
  idleSessions: 200, members: 10_000, authSamples: 100_000, uploadCount: 20, backlog: 1000, limitMs: 30 * 60_000,
  revocation: { logins: 50, sessions: 200, revalidateLogins: 100, revalidateSessions: 1000, revalidateInterval: 10 },
  cpuSeqN: 10_000_000, cpuRuns: 3, echo: { idle: 1000, streaming: 20, perConnection: 50, samples: 2000 },
};
const QUICK: Plan = {
  conns: 40, concurrency: 5, connRuns: 1, latencyCount: 10, seqN: 200_000, ptyRuns: 1,
  idleSessions: 20, members: 1000, authSamples: 10_000, uploadCount: 5, backlog: 50, limitMs: 3 * 60_000,
  revocation: { logins: 3, sessions: 6, revalidateLogins: 3, revalidateSessions: 6, revalidateInterval: 2 },
  // CPU is read in /proc's 10 ms ticks: 200,000 lines (~1.3 MB) cost sshd 2-3 ticks, and a run
  // that read 0 left the row without a ratio (bench-quick.test.ts failed once in a full npm test).
  // 2,000,000 lines (16.9 MB) cost it 0.37 s, 37 ticks, and the quick run ~8 s more.
  cpuSeqN: 2_000_000, cpuRuns: 1, echo: { idle: 20, streaming: 2, perConnection: 10, samples: 20 },
};
const ACCOUNT = 'teamssh-bench';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, only: { type: 'string' }, profile: { type: 'string' } } });
const plan = values.quick ? QUICK : FULL;
const out = values.out ?? fileURLToPath(new URL('../../bench/results.md', import.meta.url));
const only = new Set<Metric>(values.only ? (values.only.split(',').map((s) => s.trim()) as Metric[]) : METRICS);
for (const x of only) if (!METRICS.includes(x)) throw new Error(`--only: unknown metric "${x}" (known: ${METRICS.join(', ')})`);

// Children are killed by their own 'exit' handlers; signals must reach those too.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
setTimeout(() => {
  process.stderr.write(`bench: time limit of ${plan.limitMs / 1000} s reached; stopping\n`);
  process.exit(1);
}, plan.limitMs).unref();

const rows: Row[] = [];
const notes: string[] = [];
const say = (s: string) => process.stderr.write(`bench: ${s}\n`);
const ratioText = (x: number, what = 'OpenSSH') => (Number.isFinite(x) ? `${x.toFixed(2)}× ${what}` : 'n/a');
/** Alternates which target goes first from run to run, so drift does not favour one. */
const rotate = <T>(xs: T[], run: number): T[] => (run % 2 ? [...xs].reverse() : xs);

/**
 * Waits until teamssh's uploads of earlier sessions are done: splitting a 100 MB recording
 * and the fake asciinema server's parsing (in this process) would otherwise slow whichever
 * target runs next. Done means nothing is left in the recordings directory's queue (splitting
 * can take seconds with no request in flight) and the fake has been quiet for `quietMs`.
 */
async function settle(t: Targets, quietMs = 300): Promise<void> {
  if (t.server) await queueEmpty(t.server.recordingsDir, 120_000);
  if (t.fakes) await m.quiet(t.fakes.asciinema, quietMs, 120_000);
}

async function queueEmpty(dir: string, maxMs: number): Promise<void> {
  const end = Date.now() + maxMs;
  const names = async (d: string) => readdir(d).catch(() => [] as string[]);
  // Live recordings are in live/ (and, from older versions, at the top); finished and claimed ones at the top.
  const pending = async () => (await names(dir)).some((f) => /\.cast(\.part|\.claim\..*)?$/.test(f)) || (await names(liveDirOf(dir))).some((f) => f.endsWith('.cast.part'));
  while ((await pending()) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
}

interface Targets { opensshPid?: number; openssh?: m.Target; opensshPq?: m.Target; seed?: m.Target; teamssh?: m.Target; key: ClientKey; server?: RunningTeamssh; fakes?: Fakes }


async function measureMemory(t: Targets): Promise<void> {
  if (!t.teamssh || !t.server) return;
  const idle = await m.rssMb(t.server.pid);
  const privateKey = await readFile(t.key.path);
  const before = await m.rssMb(t.server.pid);
  const sessions = await m.openIdleSessions(t.teamssh, privateKey, plan.idleSessions);
  try {
    await new Promise((r) => setTimeout(r, 2000));
    const during = await m.rssMb(t.server.pid);
    const per = (during - before) / plan.idleSessions;
    rows.push({ metric: 'RSS idle', unit: 'MB', teamssh: valueCell(idle), target: '–' });
    rows.push({ metric: `RSS with ${plan.idleSessions} idle pty sessions`, unit: 'MB', teamssh: valueCell(during), target: '–' });
    rows.push({ metric: 'RSS per idle session', unit: 'MB', teamssh: valueCell(per), ratio: `${fmt(per)} MB`, target: '≤ 2 MB', pass: per <= 2 });
  } finally {
    await sessions.close();
  }
}

async function measureAuth(): Promise<void> {
  const { decideUs, signatureUs } = await m.authDecision(plan.members, plan.authSamples);
  const d = summarize(decideUs);
  const s = summarize(signatureUs);
  const label = `${plan.members} members × 3 keys, warm`;
  rows.push({ metric: `auth decision p50 (${label})`, unit: 'µs', teamssh: valueCell(d.p50, d.n), target: '–' });
  rows.push({ metric: `auth decision p99 (${label})`, unit: 'µs', teamssh: valueCell(d.p99, d.n), ratio: `${fmt(d.p99)} µs`, target: '< 1000 µs', pass: d.p99 < 1000 });
  rows.push({ metric: 'signature check p50 (ed25519, checkSignature)', unit: 'µs', teamssh: valueCell(s.p50, s.n), target: '–' });
  rows.push({ metric: 'signature check p99 (ed25519, checkSignature)', unit: 'µs', teamssh: valueCell(s.p99, s.n), target: '–' });
}

async function measureConn(t: Targets): Promise<void> {
  const list = [t.openssh, t.teamssh].filter((x): x is m.Target => x !== undefined);
  const rates = new Map<string, number[]>(list.map((x) => [x.name, []]));
  const warmups = new Map<string, number>();
  // One untimed run per target first: a bastion serves logins for weeks, and V8 optimises a
  // function that runs once per login only after hundreds of logins (a fresh teamssh compiled
  // 138 more functions, ~1 s of its compiler threads' CPU, between its 300th and 700th login).
  // sshd execs a fresh binary per connection; its run warms the page cache alike.
  for (const target of list) {
    await settle(t);
    const r = await m.connectionRate(target, t.key, plan.conns, plan.concurrency);
    say(`conn ${target.name} warm-up: ${r.rate.toFixed(1)}/s (not counted)`);
    if (r.failures) notes.push(`connection rate: ${target.name} warm-up: ${r.failures} of ${plan.conns} connections failed (${r.firstError})`);
    warmups.set(target.name, r.rate);
  }
  for (let run = 0; run < plan.connRuns; run++) {
    for (const target of rotate(list, run)) {
      await settle(t);
      const r = await m.connectionRate(target, t.key, plan.conns, plan.concurrency);
      rates.get(target.name)!.push(r.rate);
      if (r.failures) notes.push(`connection rate: ${target.name} run ${run + 1}: ${r.failures} of ${plan.conns} connections failed (${r.firstError})`);
      say(`conn ${target.name} run ${run + 1}: ${r.rate.toFixed(1)}/s`);
    }
  }
  notes.push(`connection rate: each target first served one untimed run of ${plan.conns} logins (warm-up: ${list.map((x) => `${x.name} ${fmt(warmups.get(x.name))}/s`).join(', ')}); the measured runs follow it.`);
  if (t.server) notes.push(`teamssh RSS after the connection-rate runs: ${fmt(await m.rssMb(t.server.pid))} MB`);
  const o = summarize(rates.get('openssh') ?? []);
  const s = summarize(rates.get('teamssh') ?? []);
  const x = ratio(s.median, o.median);
  rows.push({
    metric: `connection rate (${plan.conns} × ssh true, concurrency ${plan.concurrency})`, unit: 'conn/s',
    openssh: medianCell(o), teamssh: medianCell(s), ratio: ratioText(x), target: '≥ 1.3× OpenSSH', pass: Number.isFinite(x) ? x >= 1.3 : undefined,
  });
}

async function measureLatency(t: Targets): Promise<void> {
  const list = [t.openssh, t.teamssh].filter((x): x is m.Target => x !== undefined);
  const samples = new Map<string, number[]>(list.map((x) => [x.name, []]));
  for (let i = 0; i < plan.latencyCount; i++) {
    for (const target of rotate(list, i)) {
      await settle(t, 50);
      samples.get(target.name)!.push(...(await m.loginLatencies(target, t.key, 1)));
    }
  }
  const o = summarize(samples.get('openssh') ?? []);
  const s = summarize(samples.get('teamssh') ?? []);
  for (const p of ['p50', 'p99'] as const) {
    rows.push({
      metric: `login latency ${p} (ssh true, one at a time)`, unit: 'ms',
      openssh: valueCell(o[p], o.n), teamssh: valueCell(s[p], s.n), ratio: ratioText(ratio(s[p], o[p])), target: '–',
    });
  }
  if (t.opensshPq) {
    // OpenSSH's default post-quantum key exchange, for scale: the rows above pin curve25519 on sshd.
    const pq = summarize(await m.loginLatencies(t.opensshPq, t.key, Math.max(3, Math.ceil(plan.latencyCount / 10))));
    rows.push({ metric: 'login latency p50, OpenSSH with its default sntrup761x25519 key exchange', unit: 'ms', openssh: valueCell(pq.p50, pq.n), target: '–' });
  }
}

async function measurePty(t: Targets): Promise<void> {
  const list = [t.openssh, t.seed, t.teamssh].filter((x): x is m.Target => x !== undefined);
  const secs = new Map<string, number[]>(list.map((x) => [x.name, []]));
  for (let run = 0; run < plan.ptyRuns; run++) {
    for (const target of run % 3 === 0 ? list : run % 3 === 1 ? [...list.slice(1), list[0]!] : [...list.slice(2), ...list.slice(0, 2)]) {
      await settle(t);
      const r = await m.ptyThroughput(target, t.key, plan.seqN);
      secs.get(target.name)!.push(r.seconds);
      say(`pty ${target.name} run ${run + 1}: ${r.seconds.toFixed(2)} s, ${(r.bytes / 1e6).toFixed(1)} MB`);
    }
  }
  const [o, seed, s] = ['openssh', 'seed', 'teamssh'].map((n) => summarize(secs.get(n) ?? []));
  // Throughput ratios: the same bytes in less time, so time(other) / time(teamssh).
  const vsOpen = ratio(o!.median, s!.median);
  const vsSeed = ratio(seed!.median, s!.median);
  rows.push({
    metric: `pty throughput (ssh -tt 'seq 1 ${plan.seqN}', ${(m.seqBytes(plan.seqN) / 1e6).toFixed(1)} MB)`, unit: 's',
    openssh: medianCell(o!), seed: medianCell(seed!), teamssh: medianCell(s!),
    ratio: `${ratioText(vsOpen)}, ${ratioText(vsSeed, 'seed')}`, target: '≥ 1.0× OpenSSH, ≥ 1.7× seed',
    pass: Number.isFinite(vsOpen) && Number.isFinite(vsSeed) ? vsOpen >= 1.0 && vsSeed >= 1.7 : undefined,
  });
}

async function measureUpload(t: Targets): Promise<void> {
  if (!t.teamssh || !t.fakes) return;
  const ms = summarize(await m.uploadLatencies(t.teamssh, t.key, t.fakes.asciinema, plan.uploadCount));
  rows.push({ metric: 'recording on server after session end p50', unit: 'ms', teamssh: medianCell(ms), ratio: `${fmt(ms.p50)} ms`, target: '< 1000 ms', pass: ms.p50 < 1000 });
}

async function measureBacklog(dir: string, key: ClientKey): Promise<void> {
  const fakes = await startFakes(key.publicLine);
  try {
    const recordingsDir = path.join(dir, 'backlog');
    await m.writeBacklog(recordingsDir, plan.backlog);
    const start = nowMs();
    const done = m.drained(fakes.asciinema, plan.backlog, plan.backlog * 200 + 20_000);
    done.catch(() => undefined);
    const uploader = await startUploaderCli({ dir: path.join(dir, 'backlog-state'), recordingsDir, fakes, account: ACCOUNT });
    try {
      const { firstAt, lastAt } = await done;
      const rate = plan.backlog / ((lastAt - firstAt) / 1000);
      const overall = plan.backlog / ((lastAt - start) / 1000);
      rows.push({ metric: `backlog drain (${plan.backlog} recordings, first to last upload)`, unit: 'rec/s', teamssh: valueCell(rate), ratio: `${fmt(rate)}/s`, target: '≥ 50/s', pass: rate >= 50 });
      rows.push({ metric: 'backlog drain including uploader start', unit: 'rec/s', teamssh: valueCell(overall), target: '–' });
    } catch (err) {
      notes.push(`uploader output: ${uploader.tail().slice(-600)}`);
      throw err;
    } finally {
      await uploader.stop();
    }
  } finally {
    await fakes.stop();
  }
}

async function main(): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-bench-'));
  await chmod(dir, 0o755);
  const stops: Array<() => Promise<void>> = [];
  let failed = 0;
  try {
    const account = await ensureTestAccount(ACCOUNT);
    await unlockForPublicKeys(ACCOUNT);
    const key = await makeClientKey(dir, 'client');
    const t: Targets = { key };
    const needs = (...xs: Metric[]) => xs.some((x) => only.has(x));
    const sshd = async (variant: 'plain' | 'seed', kex: 'curve25519' | 'default' = 'curve25519'): Promise<RunningSshd> => {
      const s = await startSshd({ dir: path.join(dir, `sshd-${variant}-${kex}`), account, clientKey: key, variant, kex });
      stops.push(s.stop);
      return s;
    };
    if (needs('conn', 'latency', 'pty', 'cpu', 'echo')) {
      const s = await sshd('plain');
      t.openssh = { name: 'openssh', port: s.port, user: ACCOUNT };
      t.opensshPid = s.pid;
    }
    if (needs('latency', 'pq')) t.opensshPq = { name: 'openssh-pq', port: (await sshd('plain', 'default')).port, user: ACCOUNT };
    if (needs('pty')) t.seed = { name: 'seed', port: (await sshd('seed')).port, user: ACCOUNT };
    if (needs('conn', 'latency', 'pq', 'pty', 'cpu', 'echo', 'memory', 'upload')) {
      try {
        t.fakes = await startFakes(key.publicLine);
        stops.push(t.fakes.stop);
        // --profile DIR: V8 CPU profile of the server, written when it stops at the end of the run.
        const nodeArgs = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`] : [];
        t.server = await startTeamssh({ dir: path.join(dir, 'teamssh'), fakes: t.fakes, account: ACCOUNT, nodeArgs });
        stops.push(t.server.stop);
        t.teamssh = { name: 'teamssh', port: t.server.port, user: BENCH_LOGIN };
      } catch (err) {
        failed += 1;
        notes.push(`teamssh did not start: ${(err as Error).message.replace(/\s+/g, ' ').slice(0, 1500)}`);
      }
    }
    // One login each before measuring: teamssh's GitHub cache is warm, sshd's binaries are in the page cache.
    for (const target of [t.openssh, t.opensshPq, t.seed, t.teamssh]) {
      if (!target) continue;
      const r = await m.ssh(target, key, ['true'], 30_000);
      if (r.code !== 0) throw new Error(`warm-up login to ${target.name} failed (exit ${r.code}): ${r.stderr.trim()}`);
    }
    const steps: Record<Metric, () => Promise<void>> = {
      memory: () => measureMemory(t), auth: () => measureAuth(), conn: () => measureConn(t), latency: () => measureLatency(t),
      pty: () => measurePty(t),
      cpu: () => measurePtyCpu(t.openssh && { ...t.openssh, pid: t.opensshPid! }, t.teamssh && t.server && { ...t.teamssh, pid: t.server.pid }, key, { seqN: plan.cpuSeqN, runs: plan.cpuRuns, settle: () => settle(t) }, rows, notes),
      echo: () => measureEchoUnderLoad(t.openssh && { ...t.openssh, pid: t.opensshPid! }, t.teamssh && t.server && { ...t.teamssh, pid: t.server.pid }, key, plan.echo, rows, notes),
      upload: () => measureUpload(t), backlog: () => measureBacklog(dir, key),
      pq: async () => {
        await settle(t);
        const pq = await postQuantumTargets(t.opensshPq, t.teamssh, key);
        await measurePostQuantum(pq, key, { latencyCount: plan.latencyCount, conns: plan.conns, concurrency: plan.concurrency, runs: plan.connRuns, beforeEach: () => settle(t, 50) }, rows, notes);
      },
      revocation: () => measureRevocation(path.join(dir, 'revocation'), ACCOUNT, plan.revocation, rows, notes),
      redaction: () => measureRedaction(path.join(dir, 'redaction'), ACCOUNT, key, { seqN: plan.seqN, runs: Math.max(3, plan.ptyRuns) }, rows, notes),
      jump: () => measureJump(path.join(dir, 'jump'), account, key, { latencyCount: plan.latencyCount, seqN: plan.seqN, runs: plan.ptyRuns }, rows, notes),
    };
    for (const metric of METRICS) {
      if (!only.has(metric)) continue;
      say(`measuring ${metric}`);
      try {
        await steps[metric]();
      } catch (err) {
        failed += 1;
        notes.push(`${metric}: not measured: ${(err as Error).message.replace(/\s+/g, ' ').slice(0, 800)}`);
        say(`${metric} failed: ${(err as Error).message}`);
      }
    }
    notes.push('Both sshd instances pin KexAlgorithms curve25519-sha256, the exchange teamssh (ssh2) negotiates with this client; OpenSSH\'s default sntrup761x25519 is measured once for scale.');
    notes.push('Before each run the bench waits until teamssh has no upload in flight: the fake asciinema server validates uploads in the bench process and would otherwise slow the next target.');
    notes.push('teamssh runs at TEAMSSH_LOG_LEVEL=info (it announces its port at info); sshd logs at its default INFO to stderr. Both logs are drained by the bench.');
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => say(`stop failed: ${String(err)}`));
    await rm(dir, { recursive: true, force: true });
  }
  const env = await environment(values.quick ? 'quick' : 'full');
  await writeFile(out, page(env, rows, notes));
  process.stdout.write(`${table(rows)}\n\n${notes.map((n) => `- ${n}`).join('\n')}\nwritten to ${out}\n`);
  return failed;
}

// Explicit exit: a stray handle (an ssh2 socket, a timer) must not keep the bench alive.
process.exit((await main()) > 0 ? 1 : 0);
