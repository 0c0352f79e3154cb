import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, mkdir, writeFile, rename } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { GitHubDirectory } from '../src/github/directory.js';
import { decide } from '../src/auth/decide.js';
import { checkSignature } from '../src/auth/verify.js';
import { silentLogger } from '../src/log.js';
import { liveDirOf } from '../src/recording/recordings-dir.js';
import type { FakeAsciinema } from '../test/fakes/asciinema-server.js';
import type { ClientKey } from './openssh.js';
import { nowMs } from './stats.js';

/**
 * The measurements. Every one drives the real thing from outside the way a user would (the
 * OpenSSH client, the ssh2 client library, files in the recordings directory), except the auth
 * decision, which is timed in-process because it is microseconds under a network round trip.
 */

/** Something to ssh into: a port and the user name it expects. */
export interface Target {
  name: string;
  port: number;
  user: string;
  /** The ssh client binary to drive it with (default: the system's `ssh`). */
  client?: string;
}

/** What one ssh client run did. */
export interface SshRun {
  code: number | null;
  ms: number;
  /** Bytes the client wrote to stdout (counted, then discarded). */
  bytes: number;
  stderr: string;
}

/**
 * Runs the OpenSSH client against `t` with `args` after the host; stdout is counted and dropped.
 * `countWith: 'wc'` pipes the client into `wc -c` instead of this process: for bulk output,
 * so the bench's own reading does not compete with the servers for the two cores.
 */
export function ssh(t: Target, key: ClientKey, args: string[], timeoutMs = 120_000, opts: { countWith?: 'node' | 'wc'; verbose?: boolean } = {}): Promise<SshRun> {
  const argv = [
    // verbose: debug1 lines (the negotiated algorithms) on stderr; the first LogLevel given wins.
    ...(opts.verbose ? ['-o', 'LogLevel=DEBUG1'] : []),
    '-F', '/dev/null', '-i', key.path, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
    '-p', String(t.port), `${t.user}@127.0.0.1`, ...args,
  ];
  const start = nowMs();
  // stdin stays an open pipe: an EOF would end an interactive pty session early on some servers.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() };
  const viaWc = opts.countWith === 'wc';
  const child = viaWc
    ? spawn('bash', ['-c', '"$0" "$@" | wc -c; exit "${PIPESTATUS[0]}"', t.client ?? 'ssh', ...argv], { stdio: ['pipe', 'pipe', 'pipe'], env })
    : spawn(t.client ?? 'ssh', argv, { stdio: ['pipe', 'pipe', 'pipe'], env });
  let bytes = 0;
  let counted = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (viaWc ? (counted += d.toString('latin1')) : (bytes += d.length)));
  const keep = opts.verbose ? 200_000 : 2000;
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-keep)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, ms: nowMs() - start, bytes: viaWc ? Number(counted.trim()) || 0 : bytes, stderr });
    });
  });
}

/** Connections per second of `count` × `ssh host true` at `concurrency`; failed runs are counted, not timed out of the result. */
export async function connectionRate(t: Target, key: ClientKey, count: number, concurrency: number): Promise<{ rate: number; failures: number; firstError: string }> {
  let next = 0;
  let failures = 0;
  let firstError = '';
  const start = nowMs();
  const worker = async () => {
    while (next < count) {
      next += 1;
      const r = await ssh(t, key, ['true'], 30_000);
      if (r.code !== 0) {
        failures += 1;
        firstError ||= `exit ${r.code}: ${r.stderr.trim()}`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { rate: (count - failures) / ((nowMs() - start) / 1000), failures, firstError };
}

/** Milliseconds of `count` sequential `ssh host true` runs, each alone on the server. */
export async function loginLatencies(t: Target, key: ClientKey, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const r = await ssh(t, key, ['true'], 30_000);
    if (r.code !== 0) throw new Error(`${t.name}: ssh true failed (exit ${r.code}): ${r.stderr.trim()}`);
    out.push(r.ms);
  }
  return out;
}

/** Seconds for `ssh -tt host 'seq 1 N'` with the output drained; throws when output is missing. */
export async function ptyThroughput(t: Target, key: ClientKey, n: number): Promise<{ seconds: number; bytes: number }> {
  const r = await ssh(t, key, ['-tt', `seq 1 ${n}`], 300_000, { countWith: 'wc' });
  // seq's own output; the pty adds \r before each \n (twice behind asciinema's second pty).
  const minimum = seqBytes(n);
  if (r.code !== 0 || r.bytes < minimum) throw new Error(`${t.name}: seq run exit ${r.code}, ${r.bytes} of at least ${minimum} bytes: ${r.stderr.trim()}`);
  return { seconds: r.ms / 1000, bytes: r.bytes };
}

/** Bytes printed by `seq 1 n`. */
export function seqBytes(n: number): number {
  let total = 0;
  for (let digits = 1, lo = 1; lo <= n; digits++, lo *= 10) total += (Math.min(n, lo * 10 - 1) - lo + 1) * (digits + 1);
  return total;
}

/** Resident set size of a process in MB, from /proc/PID/status. */
export async function rssMb(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** Opens `count` interactive pty sessions with the ssh2 client (each on its own connection), waits for a first byte from each, and returns a closer. */
export async function openIdleSessions(t: Target, privateKey: Buffer, count: number, concurrency = 10): Promise<{ close: () => Promise<void> }> {
  const clients: ssh2.Client[] = [];
  const openOne = async () => {
    const c = new ssh2.Client();
    clients.push(c);
    c.on('error', () => undefined);
    c.connect({ host: '127.0.0.1', port: t.port, username: t.user, privateKey, readyTimeout: 20_000 });
    await once(c, 'ready');
    const stream = await new Promise<ssh2.ClientChannel>((resolve, reject) => c.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, s) => (err ? reject(err) : resolve(s))));
    stream.on('error', () => undefined);
    // The prompt: the shell is up and idle at its read().
    await Promise.race([once(stream, 'data'), new Promise((r) => setTimeout(r, 5000))]);
  };
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      await openOne();
    }
  };
  const close = async () => {
    await Promise.all(clients.map((c) => new Promise<void>((resolve) => {
      const timer = setTimeout(() => (c.destroy(), resolve()), 3000);
      c.once('close', () => (clearTimeout(timer), resolve()));
      c.end();
    })));
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } catch (err) {
    await close();
    throw err;
  }
  return { close };
}

/** Microseconds of warm auth decisions (lookup + decide) and of signature checks over a primed index of `members` × 3 keys. */
export async function authDecision(members: number, samples: number): Promise<{ decideUs: number[]; signatureUs: number[] }> {
  // ~0.5 ms per ed25519 pair: a pool of real keys, each member a distinct triple of it.
  const pool: Array<{ public: string; private: string }> = [];
  while (pool.length < Math.min(members * 3, 3000)) {
    const k = ssh2.utils.generateKeyPairSync('ed25519');
    // ssh2 1.17 drops a leading zero byte of the key: ~1 pair in 200 does not parse back. Skip those.
    if (!(ssh2.utils.parseKey(k.public) instanceof Error) && !(ssh2.utils.parseKey(k.private) instanceof Error)) pool.push(k);
  }
  const lines = pool.map((k) => k.public.split(' ').slice(0, 2).join(' '));
  const directory = new GitHubDirectory({
    apiUrl: 'http://127.0.0.1:9', token: 'unused', org: 'acme', teams: ['ops'], cacheTtlMs: 3_600_000, maxStaleMs: 3_600_000,
    negativeTtlMs: 30_000, requestTimeoutMs: 5000, maxEntries: members + 100, userAgent: 'teamssh-bench', logger: silentLogger(),
  });
  const keyOf = (m: number, j: number) => (m * 3 + j) % pool.length;
  const verifiedAt = Date.now();
  for (let m = 0; m < members; m++) {
    directory.prime({ status: 'ok', login: `member-${m}`, teams: ['ops'], pendingTeams: [], keys: [0, 1, 2].map((j) => lines[keyOf(m, j)]!), verifiedAt, stale: false });
  }
  const offered = pool.map((k) => {
    const parsed = ssh2.utils.parseKey(k.public) as ssh2.ParsedKey;
    return { algo: parsed.type, data: parsed.getPublicSSH() };
  });
  const decideOnce = async (m: number, j: number) => {
    const start = process.hrtime.bigint();
    const d = decide(await directory.lookup(`member-${m}`), offered[keyOf(m, j)]!);
    const us = Number(process.hrtime.bigint() - start) / 1000;
    if (d.kind !== 'allow') throw new Error(`member-${m} key ${j}: expected allow, got ${JSON.stringify(d)}`);
    return us;
  };
  // Warm: every member decided once, so each key set is parsed, as after the first login.
  for (let m = 0; m < members; m++) await decideOnce(m, 0);
  const decideUs: number[] = [];
  for (let i = 0; i < samples; i++) decideUs.push(await decideOnce(Math.floor(Math.random() * members), i % 3));

  const blob = Buffer.from('session-id and userauth request bytes the client signs');
  const signers = pool.slice(0, 50).map((k) => ssh2.utils.parseKey(k.private) as ssh2.ParsedKey);
  const signatureUs: number[] = [];
  for (let i = 0; i < Math.min(samples, 5000); i++) {
    const idx = i % signers.length;
    const sig = signers[idx]!.sign(blob);
    const start = process.hrtime.bigint();
    const problem = checkSignature(offered[idx]!, blob, sig, undefined);
    signatureUs.push(Number(process.hrtime.bigint() - start) / 1000);
    if (problem) throw new Error(`signature check failed: ${problem}`);
  }
  return { decideUs, signatureUs };
}

/** Milliseconds from each `ssh host true` returning to the fake asciinema server storing its recording. */
export async function uploadLatencies(t: Target, key: ClientKey, fake: FakeAsciinema, count: number): Promise<number[]> {
  const stored: number[] = [];
  const onUpload = () => stored.push(nowMs());
  fake.on('upload', onUpload);
  try {
    await quiet(fake, 1000, 120_000);
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const before = stored.length;
      const r = await ssh(t, key, ['true'], 30_000);
      if (r.code !== 0) throw new Error(`${t.name}: ssh true failed (exit ${r.code}): ${r.stderr.trim()}`);
      const ended = nowMs();
      const deadline = ended + 15_000;
      while (stored.length === before && nowMs() < deadline) await new Promise((res) => setTimeout(res, 2));
      if (stored.length === before) throw new Error('no upload within 15 s of the session end');
      out.push(stored[before]! - ended);
    }
    return out;
  } finally {
    fake.off('upload', onUpload);
  }
}

/** Waits until the fake has stored nothing new for `quietMs` (earlier sessions' uploads drained), at most `maxMs`. */
export async function quiet(fake: FakeAsciinema, quietMs: number, maxMs: number): Promise<void> {
  const end = nowMs() + maxMs;
  let seen = fake.uploads.length;
  let since = nowMs();
  while (nowMs() - since < quietMs && nowMs() < end) {
    await new Promise((r) => setTimeout(r, 50));
    if (fake.uploads.length !== seen || fake.inFlight > 0) (seen = fake.uploads.length), (since = nowMs());
  }
}

/** Waits until the fake holds `total` uploads; returns when the first of them arrived and when the last did (monotonic ms). */
export async function drained(fake: FakeAsciinema, total: number, timeoutMs: number): Promise<{ firstAt: number; lastAt: number }> {
  let firstAt = Number.NaN;
  const onRequest = () => (firstAt = Number.isNaN(firstAt) ? nowMs() : firstAt);
  fake.on('request', onRequest);
  try {
    const end = nowMs() + timeoutMs;
    while (fake.uploads.length < total) {
      if (nowMs() > end) throw new Error(`backlog: ${fake.uploads.length} of ${total} uploaded within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return { firstAt, lastAt: nowMs() };
  } finally {
    fake.off('request', onRequest);
  }
}

/** Writes `count` small valid recordings (live/NAME.cast.part then rename, sidecar first) into `dir`. */
export async function writeBacklog(dir: string, count: number): Promise<void> {
  await mkdir(liveDirOf(dir), { recursive: true, mode: 0o700 });
  const header = JSON.stringify({ version: 2, width: 80, height: 24, timestamp: Math.floor(Date.now() / 1000), env: { TERM: 'xterm', SHELL: '/bin/bash' } });
  for (let i = 0; i < count; i++) {
    const name = `backlog-${String(i).padStart(5, '0')}`;
    const events = Array.from({ length: 20 }, (_, e) => JSON.stringify([e * 0.05, 'o', `line ${e} of recording ${i}\r\n`]));
    const text = `${header}\n${events.join('\n')}\n`;
    const cast = path.join(dir, `${name}.cast`);
    const part = path.join(liveDirOf(dir), `${name}.cast.part`);
    await writeFile(part, text, { mode: 0o600 });
    await writeFile(path.join(dir, `${name}.json`), JSON.stringify({ login: 'bench', team: 'ops', file: `${name}.cast`, title: `bench ${name}`, complete: true }));
    await rename(part, cast);
  }
}
