import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';

/**
 * The server's CPU priority relative to its sessions.
 *
 * Why: one teamssh process relays the input and output of every session, while OpenSSH
 * gives each connection an sshd process of its own. Linux shares the CPU per scheduling
 * entity, not per amount of work: with sessions busy (a build, a log tail, 20 shells
 * printing in the echo bench) the one relay got one share against each of them, and every
 * keystroke of every other user waited in the queue with it. Measured (bench/echo-load.ts,
 * 1,000 idle + 20 streaming sessions, on a loaded machine): echo p99 207–334 ms against
 * OpenSSH's 12–38 ms without this, 33 ms against OpenSSH's 35 ms with the server's
 * autogroup raised 10 levels.
 *
 * Two knobs, because which one the kernel uses depends on the host:
 * - the nice value of each of the server's threads (setpriority(2) applies per thread on
 *   Linux; threads started later inherit it from the thread that starts them). This is
 *   what ranks tasks in one CPU cgroup, e.g. a systemd service with CPU accounting on;
 * - the nice value of the server's autogroup (/proc/self/autogroup, sched(7)), when the
 *   kernel groups tasks by session (CONFIG_SCHED_AUTOGROUP, on in Debian's kernels) and
 *   the server is in the root CPU cgroup. Every pty session calls setsid and so is an
 *   autogroup of its own, and then thread nice values only rank threads inside one group:
 *   without this knob the first one does nothing. It is only touched when the server leads
 *   its own session (as systemd starts services): otherwise the autogroup is the
 *   operator's shell session, which is not ours to raise.
 *
 * Sessions start at the nice value teamssh itself was started with: the launcher sets it
 * while still root (src/launch/launcher.c), and a new session is a new autogroup at 0.
 */

/** What raising the server's priority did, for the start-up log line. */
export interface PriorityOutcome {
  /** False when the server asked for a boost and could not raise itself (logged as a warning). */
  ok: boolean;
  /** The nice value the server runs at now. */
  serverNice: number;
  /** The nice value sessions start at. */
  sessionNice: number;
  /** The autogroup's nice value when it was set; absent when left alone (`note` says why). */
  autogroupNice?: number;
  /** Why the autogroup was left alone, or why the raise failed; absent when all went through. */
  note?: string;
}

// Read once, before the server raises its own (raiseServerPriority asks first): sessions keep
// the priority the operator started teamssh with, whatever the server makes of its own.
let sessionNice: number | undefined;

/** The nice value every session starts at (the one teamssh was started with). */
export function sessionNiceValue(): number {
  sessionNice ??= os.getPriority();
  return sessionNice;
}

/** The session id of this process (field 6 of /proc/self/stat), or undefined when unreadable. */
function ownSessionId(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // The command name may hold spaces and parentheses; the fields after the last ")" do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[3]);
  } catch {
    return undefined;
  }
}

/** Sets the nice value of every thread of this process; throws the first error. */
function setAllThreads(nice: number): void {
  for (const tid of readdirSync('/proc/self/task')) os.setPriority(Number(tid), nice);
}

/**
 * Raises the server `boost` nice levels above the value it was started with (and above its
 * sessions). Never throws: without the privilege (not root, or CAP_SYS_NICE taken away) the
 * server runs as before and the outcome says why.
 */
export function raiseServerPriority(boost: number): PriorityOutcome {
  const base = sessionNiceValue();
  const target = Math.max(-20, base - boost);
  if (boost === 0 || target === base) return { ok: true, serverNice: base, sessionNice: base, note: 'priority boost is off' };
  try {
    setAllThreads(target);
  } catch (err) {
    return { ok: false, serverNice: os.getPriority(), sessionNice: base, note: `cannot raise the server's priority: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  const out: PriorityOutcome = { ok: true, serverNice: target, sessionNice: base };
  if (ownSessionId() !== process.pid) {
    out.note = 'autogroup left alone: the server does not lead its own session (systemd starts services that way)';
    return out;
  }
  try {
    writeFileSync('/proc/self/autogroup', String(target));
    out.autogroupNice = target;
  } catch (err) {
    // ENOENT: a kernel without autogroups; the thread nice values are what count there.
    out.note = `autogroup left alone: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  return out;
}
