import { readdirSync, readFileSync } from 'node:fs';
import { TeamsshError } from '../errors.js';

/** Error code: processes of a session survived SIGKILL (stuck in the kernel, e.g. on NFS). */
export const TERMINATE_TIMEOUT = 'ERR_TERMINATE_TIMEOUT';

/** The fields of /proc/PID/stat this module needs. */
export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Foreground process group of the process's controlling terminal, or -1 without one. */
  tpgid: number;
  /** Clock ticks after boot; with the pid it names a process for good (pids are reused). */
  startTime: number;
}

const POLL_MS = 50;
// After SIGKILL only uninterruptible sleep can keep a process alive; do not wait forever.
const KILL_WAIT_MS = 10_000;

/** Reads /proc/PID/stat; undefined when the process is gone. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state = '?', ppid = '0', pgrp = '0', session = '0', , tpgid = '-1'] = rest;
  // Field 22 of proc(5); rest[0] is field 3.
  const startTime = Number(rest[19] ?? 0);
  return { pid, state, ppid: Number(ppid), pgrp: Number(pgrp), session: Number(session), tpgid: Number(tpgid), startTime };
}

/**
 * Every live (non-zombie) process whose session id is `sid`. Scanning by session rather
 * than process group matters: interactive shells put each job in its own group, and a
 * double fork without setsid leaves an orphan that is still in the session.
 */
export function unixSessionMembers(sid: number): number[] {
  return allProcesses()
    .filter((st) => st.session === sid)
    .map((st) => st.pid);
}

/** Every live (non-zombie) process, read once; for scans that need more than one field. */
export function allProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readProcStat(Number(name));
    if (st && st.state !== 'Z' && st.state !== 'X') out.push(st);
  }
  return out;
}

/** Sends a signal, or 0 to probe; false when the target is gone (ESRCH) or was never there. */
export function send(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    // ESRCH: it went away between the scan and the signal; that is what we want.
    return false;
  }
}
/**
 * How far a termination reaches. 'session' scans /proc for every process of the session,
 * which interactive shells need (each job gets its own process group). 'group' signals the
 * leader's process group only: enough for a non-interactive command, and it spares a /proc
 * scan per command, the largest cost of a short session after the fork.
 */
export type TerminateScope = 'session' | 'group';

/**
 * Everything of one session that a termination must end, however it is found (a cgroup,
 * a Unix session, a scan of the account's processes).
 */
export interface SessionReach {
  /** Sends `sig` to every process it reaches (SIGCONT after SIGHUP); false when none was there. */
  signal(sig: NodeJS.Signals): boolean;
  /** Ends every process at once. */
  kill(): void;
  /** True while any process is left. */
  anyLeft(): boolean;
  /** Names the session in an error message. */
  readonly label: string;
}

/** Sends sig to each pid; after SIGHUP also SIGCONT, since a stopped job (Ctrl-Z) would hold SIGHUP pending until continued. */
export function signalEach(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    send(pid, sig);
    if (sig === 'SIGHUP') send(pid, 'SIGCONT');
  }
}

/**
 * A session's leader named by pid and start time (a pid alone may be reused once reaped): alive
 * while that very process runs, and signalled by pid.
 *
 * Why by pid: a session ended the moment it was spawned can find its leader before its setsid()
 * (node-pty's forkpty child, still the launcher running as root) and before it joins its cgroup:
 * no process group or session of that id exists yet and the cgroup is empty, so neither would be
 * signalled, and the program would start a moment later, unowned
 * (test/integration/containment-program.test.ts caught it about one run in four with the process
 * scan, and once in a CI run with cgroups). A signal sent to the pid stays pending through the
 * launcher and its exec.
 */
export function leaderByPid(pid: number): { pid: number; alive: () => boolean; signal: (sig: NodeJS.Signals) => boolean } {
  const startTime = readProcStat(pid)?.startTime;
  const alive = () => {
    const st = readProcStat(pid);
    return st !== undefined && st.startTime === startTime && st.state !== 'Z';
  };
  return { pid, alive, signal: (sig) => alive() && send(pid, sig) };
}

/**
 * The reach of a Unix session led by `sid` (pid = sid = pgid): the leader by pid (leaderByPid),
 * its process group and, scope 'session', every member. Limit: a process that calls setsid()
 * itself has left the session and is not found; see src/launch/containment.ts for what catches it.
 */
export function unixSessionReach(sid: number, scope: TerminateScope): SessionReach {
  const leader = leaderByPid(sid);
  const signal = (sig: NodeJS.Signals) => {
    const byPid = leader.signal(sig);
    const group = send(-sid, sig); // the leader's process group, even members whose /proc entry we raced
    const members = scope === 'session' ? unixSessionMembers(sid) : [];
    signalEach(members, sig);
    return byPid || group || members.length > 0;
  };
  return {
    label: `session ${sid}`,
    signal,
    kill: () => void signal('SIGKILL'),
    anyLeft: () => leader.alive() || (scope === 'session' ? unixSessionMembers(sid).length > 0 : send(-sid, 0)),
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitEmpty(reach: SessionReach, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (!reach.anyLeft()) return true;
    if (Date.now() >= until) return false;
    await sleep(POLL_MS);
  }
}

/**
 * Ends everything `reach` finds: SIGHUP first, so shells and editors can save and leave;
 * after `graceMs` whatever remains is killed; resolves once none remain. Throws
 * TERMINATE_TIMEOUT when processes survive the kill (uninterruptible sleep).
 */
export async function terminateReach(reach: SessionReach, graceMs: number): Promise<void> {
  // The common case, a program that exited cleanly with nothing left behind, costs one look.
  if (!reach.signal('SIGHUP')) return;
  if (await waitEmpty(reach, Math.max(0, graceMs))) return;
  reach.kill();
  if (await waitEmpty(reach, KILL_WAIT_MS)) return;
  throw new TeamsshError(TERMINATE_TIMEOUT, `processes of ${reach.label} survived SIGKILL`);
}
