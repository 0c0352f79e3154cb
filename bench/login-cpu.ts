import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureTestAccount } from '../test/support/accounts.js';
import { connectionRate, quiet, type Target } from './measure.js';
import { makeClientKey, unlockForPublicKeys } from './openssh.js';
import { BENCH_LOGIN, startFakes, startTeamssh } from './teamssh.js';

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
 */

const { values } = parseArgs({ options: { count: { type: 'string', default: '400' }, runs: { type: 'string', default: '3' }, 'no-upload': { type: 'boolean', default: false } } });
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
  // The spawner (src/launch/spawner.c, started with the first session) is the server's child;
  // sessions are its children, reaped by it.
  const spawner = Number(execFileSync('pgrep', ['-P', String(server.pid)]).toString().trim().split('\n')[0]);
  const spawnerTree = () => cpuOf(spawner, true);
  // The OpenSSH clients are this process's children, reaped: in its children's CPU.
  const clients = async () => (await cpuOf(process.pid, true)) - (await cpuOf(process.pid));
  const per = (s: number) => ((1000 * s) / count).toFixed(2);
  console.log('conn/s  machine  server  server+upload  spawner+sessions  ssh-clients  bench   (CPU ms per login)');
  for (let run = 0; run < runs; run++) {
    const [m0, s0, k0, c0] = [await machineBusy(), await cpuOf(server.pid), await spawnerTree(), await clients()];
    const b0 = process.cpuUsage();
    const r = await connectionRate(target, key, count, 20);
    const [m1, s1, k1, c1] = [await machineBusy(), await cpuOf(server.pid), await spawnerTree(), await clients()];
    const b1 = process.cpuUsage(b0);
    await quiet(fakes.asciinema, 500, 60_000);
    const s2 = await cpuOf(server.pid);
    if (r.failures) console.log(`${r.failures} of ${count} logins failed: ${r.firstError}`);
    console.log([r.rate.toFixed(1).padStart(6), per(m1 - m0).padStart(8), per(s1 - s0).padStart(7), per(s2 - s0).padStart(14), per(k1 - k0).padStart(17), per(c1 - c0).padStart(12), per((b1.user + b1.system) / 1e6).padStart(7)].join(' '));
  }
} finally {
  await server.stop();
  await fakes.stop();
  await rm(dir, { recursive: true, force: true });
}
