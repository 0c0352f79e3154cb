import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureTestAccount } from '../test/support/accounts.js';
import { connectionRate, quiet, type Target } from './measure.js';
import { makeClientKey, unlockForPublicKeys, type ClientKey } from './openssh.js';
import { BENCH_LOGIN, startFakes, startTeamssh, type Fakes } from './teamssh.js';

const PROBE = fileURLToPath(new URL('./echo-probe.js', import.meta.url));

/**
 * Where the CPU of one login goes, from /proc, while the connection-rate workload runs
 * (`ssh host true`, 20 at a time): CPU milliseconds per login of the whole machine, of the
 * teamssh server process (all its threads, libuv's pool included) during the run and until its
 * uploader has shipped the last recording, of its spawner and the sessions it started, of the
 * OpenSSH clients, and of this process (the fakes). The machine is saturated in this workload,
 * so the connection rate follows the machine's CPU per login; the server's share is the part
 * teamssh can change. Run from the build to measure, alternating builds for an A/B:
 *
 *   node dist/bench/login-cpu.js [--count 400] [--runs 3] [--no-upload]
 *
 * With `--echo N` it instead types N keystrokes (bench/echo-probe.ts, one every 20 ms, in a
 * process of its own) while the logins go on, 20 at a time, and prints the echo latencies: what
 * a developer typing at a bastion sees while others log in and out as fast as they can.
 */

const { values } = parseArgs({ options: { count: { type: 'string', default: '400' }, runs: { type: 'string', default: '3' }, 'no-upload': { type: 'boolean', default: false }, echo: { type: 'string' } } });
const count = Number(values.count);
const runs = Number(values.runs);
const TICK = 100; // USER_HZ: /proc counts CPU time in 1/100 s

/** CPU seconds of `pid`, with its reaped children's when `children`. */
async function cpuOf(pid: number, children = false): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return (f[11]! + f[12]! + (children ? f[13]! + f[14]! : 0)) / TICK;
}

/** Busy CPU seconds of the whole machine (everything but idle and iowait). */
async function machineBusy(): Promise<number> {
  const t = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (t.reduce((a, b) => a + b, 0) - t[3]! - t[4]!) / TICK;
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-login-cpu-'));
await chmod(dir, 0o755);
const account = 'teamssh-bench';
await ensureTestAccount(account);
await unlockForPublicKeys(account);
const key = await makeClientKey(dir, 'client');
const fakes = await startFakes(key.publicLine);
const server = await startTeamssh({ dir: path.join(dir, 'server'), fakes, account, ...(values['no-upload'] ? { env: { TEAMSSH_UPLOAD: 'false' } } : {}) });
try {
  const target: Target = { name: 'teamssh', port: server.port, user: BENCH_LOGIN };
  await connectionRate(target, key, 40, 20); // warm-up: JIT, caches, session cgroups, the spawner
  await quiet(fakes.asciinema, 500, 60_000);
  if (values.echo) await echoUnderLogins(target, key, Number(values.echo));
  else await cpuPerLogin(target, key, server.pid, fakes);
} finally {
  await server.stop();
  await fakes.stop();
  await rm(dir, { recursive: true, force: true });
}

async function cpuPerLogin(target: Target, key: ClientKey, serverPid: number, fakes: Fakes): Promise<void> {
  // The spawner (src/launch/spawner.c, started with the first session) is the server's child;
  // sessions are its children, reaped by it.
  const spawner = Number(execFileSync('pgrep', ['-P', String(serverPid)]).toString().trim().split('\n')[0]);
  const spawnerTree = () => cpuOf(spawner, true);
  // The OpenSSH clients are this process's children, reaped: in its children's CPU.
  const clients = async () => (await cpuOf(process.pid, true)) - (await cpuOf(process.pid));
  const per = (s: number) => ((1000 * s) / count).toFixed(2);
  console.log('conn/s  machine  server  server+upload  spawner+sessions  ssh-clients  bench   (CPU ms per login)');
  for (let run = 0; run < runs; run++) {
    const [m0, s0, k0, c0] = [await machineBusy(), await cpuOf(serverPid), await spawnerTree(), await clients()];
    const b0 = process.cpuUsage();
    const r = await connectionRate(target, key, count, 20);
    const [m1, s1, k1, c1] = [await machineBusy(), await cpuOf(serverPid), await spawnerTree(), await clients()];
    const b1 = process.cpuUsage(b0);
    await quiet(fakes.asciinema, 500, 60_000);
    const s2 = await cpuOf(serverPid);
    if (r.failures) console.log(`${r.failures} of ${count} logins failed: ${r.firstError}`);
    console.log([r.rate.toFixed(1).padStart(6), per(m1 - m0).padStart(8), per(s1 - s0).padStart(7), per(s2 - s0).padStart(14), per(k1 - k0).padStart(17), per(c1 - c0).padStart(12), per((b1.user + b1.system) / 1e6).padStart(7)].join(' '));
  }
}

async function echoUnderLogins(target: Target, key: ClientKey, samples: number): Promise<void> {
  const plan = { port: target.port, user: target.user, keyPath: key.path, samples, maxMs: 20 * samples + 60_000 };
  // Detached: its own session and autogroup, as a terminal's ssh would be (bench/echo-load.ts).
  const probe = spawn(process.execPath, [PROBE, JSON.stringify(plan)], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  let out = '';
  probe.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  let done = false;
  const exited = once(probe, 'exit').then(([code]) => {
    done = true;
    if (code !== 0) throw new Error(`echo probe failed (${String(code)})`);
  });
  let logins = 0;
  while (!done) {
    await connectionRate(target, key, 40, 20);
    logins += 40;
  }
  await exited;
  const ms = (JSON.parse(out) as number[]).sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(ms.length * p))]!.toFixed(2);
  console.log(`echo while ${logins} logins ran: n=${ms.length} p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${ms[ms.length - 1]!.toFixed(2)} ms`);
}
