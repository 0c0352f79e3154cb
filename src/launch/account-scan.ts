import { readFileSync } from 'node:fs';
import { allProcesses, type ProcStat } from './process-tree.js';

/** The variable every session's processes inherit (src/launch/env.ts); it tells sessions apart when ancestry is lost. */
export const SESSION_MARKER = 'TEAMSSH_SESSION_ID';

/** A live session as the scan sees it: its account, its leader (pid = sid = pgid) and its marker. */
export interface ScanOwner {
  uid: number;
  /** Unknown (undefined) until the program has been spawned. */
  leader: number | undefined;
  marker: string | undefined;
}

/** Real and effective uid from /proc/PID/status; undefined when the process is gone. */
function uidsOf(pid: number): [number, number] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Uid:\s+(\d+)\s+(\d+)/m.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** The session marker in a process's environment as it was at exec; undefined when absent or unreadable. */
function markerOf(pid: number): string | undefined {
  let env: string;
  try {
    env = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return undefined;
  }
  const prefix = `${SESSION_MARKER}=`;
  for (const entry of env.split('\0')) {
    if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  }
  return undefined;
}

function belongsTo(st: ProcStat, owner: ScanOwner, byPid: Map<number, ProcStat>, marker: () => string | undefined): boolean {
  const leader = owner.leader;
  if (leader !== undefined && leader > 0) {
    if (st.session === leader || st.pgrp === leader) return true;
    // A double fork without setsid keeps the ancestry until the middle process exits.
    const seen = new Set<number>();
    for (let p = byPid.get(st.ppid); p && !seen.has(p.pid); p = byPid.get(p.ppid)) {
      if (p.pid === leader) return true;
      seen.add(p.pid);
    }
  }
  return owner.marker !== undefined && marker() === owner.marker;
}

/**
 * The fallback when no cgroup is available: every process running as `uid` (real or
 * effective) that belongs to none of `others`, the other live sessions of the same account.
 * A process belongs to a session when it is in its Unix session or process group, descends
 * from its leader, or carries its marker. This is weaker than a cgroup in both directions:
 * a process that escaped with setsid AND cleared its environment is counted as a stray of
 * whichever session of the account ends first, and processes of the account that teamssh
 * did not start (cron, another login path) are ended too. Never used for uid 0.
 */
export function accountStrays(uid: number, others: readonly ScanOwner[]): number[] {
  if (uid === 0) return [];
  const procs = allProcesses();
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const rivals = others.filter((o) => o.uid === uid);
  const out: number[] = [];
  for (const st of procs) {
    if (st.pid === process.pid) continue;
    const ids = uidsOf(st.pid);
    if (!ids || (ids[0] !== uid && ids[1] !== uid)) continue;
    let cached: { v: string | undefined } | undefined;
    const marker = () => (cached ??= { v: markerOf(st.pid) }).v;
    if (rivals.some((o) => belongsTo(st, o, byPid, marker))) continue;
    out.push(st.pid);
  }
  return out;
}
