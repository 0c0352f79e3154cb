import { readdir, readFile } from 'node:fs/promises';

/**
 * CPU time of a server's own processes, sampled from /proc while a workload runs: `root` and
 * every process under it with the root's command name (sshd's per-connection and per-session
 * children; teamssh's single node process), not the shells and programs the sessions run.
 * Sampling is needed because sshd's session processes do not pass their CPU on to the master
 * when they exit (its cutime stays near zero, measured), so reading the root at the end would
 * miss them. A process that exits between samples loses at most one interval of its CPU.
 */

const TICK = 100; // USER_HZ, 100 on every Linux this runs on
const INTERVAL_MS = 100;

interface Proc {
  ppid: number;
  cpu: number;
  start: number;
}

async function stat(pid: number): Promise<Proc | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!text) return undefined;
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (field: number) => Number(f[field - 3]);
  return { ppid: n(4), cpu: (n(14) + n(15)) / TICK, start: n(22) };
}

/** Own CPU seconds (user + system) of each server process under `root`, keyed by pid and start time. */
async function sample(root: number, comm: string): Promise<Map<string, number>> {
  const all = new Map<number, Proc>();
  for (const name of await readdir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = await stat(pid);
    if (s) all.set(pid, s);
  }
  const out = new Map<string, number>();
  for (const [pid, s] of all) {
    let p: number | undefined = pid;
    while (p !== undefined && p > 1 && p !== root) p = all.get(p)?.ppid;
    if (p !== root) continue;
    if ((await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() !== comm) continue;
    out.set(`${pid}@${s.start}`, s.cpu);
  }
  return out;
}

/** Starts sampling `root`'s server processes; `read()` and `stop()` resolve to the CPU seconds they used since. */
export async function cpuMeter(root: number): Promise<{ read: () => Promise<number>; stop: () => Promise<number> }> {
  const comm = (await readFile(`/proc/${root}/comm`, 'utf8')).trim();
  const first = await sample(root, comm);
  const last = new Map(first);
  let running = true;
  const loop = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, INTERVAL_MS));
      for (const [k, v] of await sample(root, comm)) last.set(k, v);
    }
  })();
  const read = async () => {
    for (const [k, v] of await sample(root, comm)) last.set(k, v);
    let total = 0;
    for (const [k, v] of last) total += v - (first.get(k) ?? 0);
    return total;
  };
  return {
    read,
    stop: async () => {
      running = false;
      await loop;
      return read();
    },
  };
}
