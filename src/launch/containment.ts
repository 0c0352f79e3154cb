import path from 'node:path';
import { TeamsshError } from '../errors.js';
import type { Logger } from '../log.js';
import { accountStrays, type ScanOwner } from './account-scan.js';
import { ServerCgroups, removeWhenEmpty } from './cgroup.js';
import { ownCgroup } from './cgroup-mount.js';
import { leaderByPid, send, signalEach, terminateReach, unixSessionReach, type SessionReach, type TerminateScope } from './process-tree.js';

/** Error code: TEAMSSH_SESSION_CONTAINMENT=cgroup, but no usable cgroup v2 exists. */
export const CONTAINMENT_UNAVAILABLE = 'ERR_CONTAINMENT_UNAVAILABLE';

/** The setting: `auto` takes a cgroup when one is usable; `cgroup` requires one; `process-scan` forces the fallback. */
export type ContainmentSetting = 'auto' | 'cgroup' | 'process-scan';

/** How one session's processes are held together, from before its program starts until nothing of it is left. */
export interface SessionContainer {
  /** For the launcher: the cgroup directory it moves itself into before exec, or "-" for none. */
  readonly cgroupArg: string;
  /** The program started with `pid` as its session (pty) or process group (pipes) leader. */
  started(pid: number, scope: TerminateScope): void;
  /** SIGHUP to everything of the session, the kill after graceMs; resolves when nothing is left, then cleans up. */
  terminate(graceMs: number): Promise<void>;
}

/** A way of containing sessions, chosen once per server process. */
export interface Containment {
  readonly kind: 'cgroup' | 'process-scan';
  /** The line for the log and `teamssh check`. */
  readonly summary: string;
  /** Where or why, for an operator. */
  readonly detail: string;
  /** Prepares containment for a session about to run as `uid`; `marker` is its TEAMSSH_SESSION_ID. */
  open(uid: number, marker: string | undefined): SessionContainer;
}

/** Containment by cgroup v2: one cgroup per session, ended with cgroup.kill. */
class CgroupContainment implements Containment {
  readonly kind = 'cgroup';
  readonly summary = 'session containment: cgroup';
  readonly detail: string;

  constructor(readonly cgroups: ServerCgroups) {
    this.detail = `one cgroup v2 per session under ${path.dirname(cgroups.dir)}`;
  }

  open(_uid: number, marker: string | undefined): SessionContainer {
    const cg = this.cgroups.create(marker);
    const inCgroup = cg.reach();
    let leader: ReturnType<typeof leaderByPid> | undefined;
    // The launcher joins the cgroup a moment after it is forked. A session ended in that moment
    // would find the cgroup empty and the program would start afterwards, unowned; so the
    // leader's process group is signalled too, and the leader itself by pid: a pty's launcher
    // has no group of its own until its setsid() (leaderByPid says why; a CI run caught it).
    const reach: SessionReach = {
      label: inCgroup.label,
      signal: (sig) => {
        const one = leader?.signal(sig) ?? false;
        const group = leader !== undefined && send(-leader.pid, sig);
        return inCgroup.signal(sig) || group || one;
      },
      kill: () => {
        leader?.signal('SIGKILL');
        if (leader !== undefined) send(-leader.pid, 'SIGKILL');
        inCgroup.kill();
      },
      anyLeft: () => (leader?.alive() ?? false) || inCgroup.anyLeft(),
    };
    return {
      cgroupArg: cg.dir,
      started: (pid) => {
        leader = leaderByPid(pid);
      },
      async terminate(graceMs) {
        await terminateReach(reach, graceMs);
        // Empty now; should the kernel still call it busy for a moment, retry in the background.
        if (!(await cg.remove())) removeWhenEmpty([cg.dir]);
      },
    };
  }
}

/**
 * The fallback: what a Unix session or process group reaches, plus a scan for processes of
 * the account that belong to no other live session of it (see accountStrays for its limits).
 */
class ScanContainment implements Containment {
  readonly kind = 'process-scan';
  readonly summary = 'session containment: process scan, weaker';

  constructor(readonly detail: string) {}

  open(uid: number, marker: string | undefined): SessionContainer {
    const owner: ScanOwner = { uid, leader: undefined, marker };
    const live = scanLive;
    live.add(owner);
    let unix: SessionReach | undefined;
    const strays = () => accountStrays(uid, [...live].filter((o) => o !== owner));
    const reach: SessionReach = {
      label: `session of uid ${uid}`,
      signal(sig) {
        const inSession = unix?.signal(sig) ?? false;
        const found = strays();
        signalEach(found, sig);
        return inSession || found.length > 0;
      },
      kill: () => void reach.signal('SIGKILL'),
      anyLeft: () => (unix?.anyLeft() ?? false) || strays().length > 0,
    };
    return {
      cgroupArg: '-',
      started(pid, scope) {
        owner.leader = pid;
        unix = unixSessionReach(pid, scope);
      },
      async terminate(graceMs) {
        try {
          await terminateReach(reach, graceMs);
        } finally {
          live.delete(owner);
        }
      },
    };
  }
}

// One per process: the server directory names this process, and the fallback's list of
// live sessions must see every session of the process to spare them.
const scanLive = new Set<ScanOwner>();
let cgroupContainment: CgroupContainment | undefined;
let current: Containment | undefined;

/**
 * Picks containment for `setting`; throws CONTAINMENT_UNAVAILABLE when `cgroup` is required
 * and unusable. Every call returns the same containment for the same choice (one per process).
 */
export function chooseContainment(setting: ContainmentSetting): Containment {
  if (setting === 'process-scan') return new ScanContainment('forced by TEAMSSH_SESSION_CONTAINMENT=process-scan');
  if (cgroupContainment) return cgroupContainment;
  const own = ownCgroup();
  let reason: string;
  if (own.ok) {
    try {
      cgroupContainment = new CgroupContainment(ServerCgroups.open(own.dir));
      return cgroupContainment;
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
    }
  } else reason = own.reason;
  if (setting === 'cgroup') throw new TeamsshError(CONTAINMENT_UNAVAILABLE, `TEAMSSH_SESSION_CONTAINMENT=cgroup, but no cgroup v2 is usable: ${reason}`);
  return new ScanContainment(`no usable cgroup v2: ${reason}`);
}

/** The containment new sessions get; chosen with `auto` on first use unless useContainment chose before. */
export function sessionContainment(): Containment {
  return (current ??= chooseContainment('auto'));
}

/** Chooses the containment for every session this process starts from now on (server start). */
export function useContainment(setting: ContainmentSetting): Containment {
  current = chooseContainment(setting);
  return current;
}

/** The one start-up line: which containment sessions get, and what a dead server left behind. */
export function logContainment(log: Logger, c: Containment): void {
  const cg = c instanceof CgroupContainment ? { cgroupDir: c.cgroups.dir, orphansKilled: c.cgroups.orphansKilled } : {};
  const fields = { event: 'session_containment', kind: c.kind, detail: c.detail, ...cg };
  if (c.kind === 'cgroup') log.info(fields, c.summary);
  else log.warn(fields, c.summary);
}

/** For `teamssh check`: what a server started now would get, without keeping anything. */
export function probeContainment(setting: ContainmentSetting): { ok: boolean; detail: string } {
  try {
    const c = chooseContainment(setting);
    return { ok: true, detail: `${c.summary.replace('session containment: ', '')} (${c.detail})` };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}

process.once('exit', () => cgroupContainment?.cgroups.removeIfEmpty());
