import { readdirSync, readFileSync } from 'node:fs';
import { TeamsshError } from '../errors.js';

/** Error code: processes of a session survived SIGKILL (stuck in the kernel, e.g. on NFS). */
export const TERMINATE_TIMEOUT = 'ERR_TERMINATE_TIMEOUT';

/** The fields of /proc/PID/stat this module needs. */
export interface ProcStat {
  pid: number;
  state: string;
  pgrp: number;
  session: number;
  /** Foreground process group of the process's controlling terminal, or -1 without one. */
  tpgid: number;
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
  const [state = '?', , pgrp = '0', session = '0', , tpgid = '-1'] = rest;
  return { pid, state, pgrp: Number(pgrp), session: Number(session), tpgid: Number(tpgid) };
}

/**
 * Every live (non-zombie) process whose session id is `sid`. Scanning by session rather
 * than process group matters: interactive shells put each job in its own group, and a
 * double fork without setsid leaves an orphan that is still in the session.
 */
export function unixSessionMembers(sid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readProcStat(Number(name));
    if (st && st.session === sid && st.state !== 'Z' && st.state !== 'X') out.push(st.pid);
  }
  return out;
}

function send(pid: number, sig: NodeJS.Signals | 0): boolean {
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

function anyLeft(sid: number, scope: TerminateScope): boolean {
  return scope === 'session' ? unixSessionMembers(sid).length > 0 : send(-sid, 0);
}

/** Signals the session; returns false when nothing of it was alive to signal. */
function signalAll(sid: number, sig: NodeJS.Signals, scope: TerminateScope): boolean {
  const group = send(-sid, sig); // the leader's process group, even members whose /proc entry we raced
  const members = scope === 'session' ? unixSessionMembers(sid) : [];
  for (const pid of members) {
    send(pid, sig);
    // A stopped job (Ctrl-Z) would hold SIGHUP pending until continued.
    if (sig === 'SIGHUP') send(pid, 'SIGCONT');
  }
  return group || members.length > 0;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitEmpty(sid: number, ms: number, scope: TerminateScope): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (!anyLeft(sid, scope)) return true;
    if (Date.now() >= until) return false;
    await sleep(POLL_MS);
  }
}

/**
 * Ends a whole session: SIGHUP to the process group and (scope 'session') to every process
 * of session `sid`, SIGKILL after `graceMs` to whatever remains; resolves once none remain.
 * Limit: a process that calls setsid() itself has left the session and is not found.
 */
export async function terminateUnixSession(sid: number, graceMs: number, scope: TerminateScope = 'session'): Promise<void> {
  // The common case, a program that exited cleanly with nothing left behind, costs one scan.
  if (!signalAll(sid, 'SIGHUP', scope)) return;
  if (await waitEmpty(sid, Math.max(0, graceMs), scope)) return;
  signalAll(sid, 'SIGKILL', scope);
  if (await waitEmpty(sid, KILL_WAIT_MS, scope)) return;
  throw new TeamsshError(TERMINATE_TIMEOUT, `processes of session ${sid} survived SIGKILL`);
}
