import { accessSync, constants, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TeamsshError } from '../errors.js';
import { readProcStat, signalEach, type SessionReach } from './process-tree.js';

/** Error code: a session cgroup could not be created or used. */
export const CGROUP_FAILED = 'ERR_CGROUP_FAILED';

/** The directory under the server's own cgroup that holds teamssh's cgroups. */
export const CGROUP_BASE = 'teamssh';

// Enough for a burst of logins between two refills (each refill is one threadpool mkdir).
const SPARE_CGROUPS = 8;

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * One session's cgroup v2 directory. The launcher moves the session's first process in
 * before it execs the program; every process forked from then on is born inside and cannot
 * leave (the cgroup files are root's), whatever it does with setsid, double forks or nohup.
 */
export class SessionCgroup {
  constructor(readonly dir: string) {}

  /** Pids in the cgroup; none once it is removed. */
  procs(): number[] {
    try {
      return readFileSync(path.join(this.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw err;
    }
  }

  /** True while any process is in it ("populated 1" in cgroup.events, which counts zombies out). */
  populated(): boolean {
    try {
      return /^populated 1$/m.test(readFileSync(path.join(this.dir, 'cgroup.events'), 'utf8'));
    } catch (err) {
      if (errno(err) === 'ENOENT') return false;
      throw err;
    }
  }

  /** SIGKILL to every process inside at once, including ones forked while it runs (Linux >= 5.14). */
  kill(): void {
    try {
      writeFileSync(path.join(this.dir, 'cgroup.kill'), '1');
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
  }

  /**
   * Removes the directory; false while it is still populated (EBUSY). Asynchronous: an rmdir
   * in cgroupfs takes the kernel's cgroup lock (~0.35 ms per session in the login profile).
   */
  async remove(): Promise<boolean> {
    try {
      await rmdir(this.dir);
      return true;
    } catch (err) {
      if (errno(err) === 'ENOENT') return true;
      if (errno(err) === 'EBUSY') return false;
      throw err;
    }
  }

  /** What terminateReach needs: SIGHUP to each member first, then cgroup.kill. */
  reach(): SessionReach {
    return {
      label: `cgroup ${this.dir}`,
      signal: (sig) => {
        const pids = this.procs();
        signalEach(pids, sig);
        return pids.length > 0;
      },
      kill: () => this.kill(),
      anyLeft: () => this.populated(),
    };
  }
}

/** Names a server for good: pid plus start time, since pids are reused. */
function serverName(pid: number): string | undefined {
  const st = readProcStat(pid);
  return st ? `server-${pid}-${st.startTime}` : undefined;
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if (errno(err) === 'ENOENT') return [];
    throw err;
  }
}

/**
 * The cgroups of this server's sessions: `<own cgroup>/teamssh/server-<pid>-<start>/session-<id>`.
 * One directory per server process, so servers sharing a cgroup (several on one host, or
 * tests) never touch each other's sessions, and a dead server's directory is recognisable.
 */
export class ServerCgroups {
  /** Empty session cgroups made ahead of their sessions, off the event loop. */
  private readonly spares: string[] = [];
  private filling = 0;

  private constructor(
    readonly dir: string,
    /** Processes found in cgroups of servers that are gone, killed at open. */
    readonly orphansKilled: number,
  ) {}

  /**
   * Creates this server's directory under `ownDir` (the server's own cgroup). Only the
   * cgroup core files are used and no controller is enabled, so the "no internal
   * processes" rule never applies: the server may stay in `ownDir`, sessions live in leaves
   * (docs/external-systems.md §9).
   * Kills what servers that died left behind (their sessions' orphans) first.
   */
  static open(ownDir: string): ServerCgroups {
    const base = path.join(ownDir, CGROUP_BASE);
    const me = serverName(process.pid);
    if (!me) throw new TeamsshError(CGROUP_FAILED, 'cannot read /proc/self/stat');
    try {
      mkdirSync(base, { recursive: true });
      const orphans = ServerCgroups.endDeadServers(base, me);
      const dir = path.join(base, me);
      mkdirSync(dir, { recursive: true });
      // cgroup.kill appeared in Linux 5.14; without it a double-forked daemon could race a /proc scan.
      accessSync(path.join(dir, 'cgroup.kill'), constants.W_OK);
      accessSync(path.join(dir, 'cgroup.procs'), constants.W_OK);
      return new ServerCgroups(dir, orphans);
    } catch (cause) {
      if (cause instanceof TeamsshError) throw cause;
      throw new TeamsshError(CGROUP_FAILED, `cannot use ${base}: ${(cause as Error).message}`, { cause });
    }
  }

  private static endDeadServers(base: string, me: string): number {
    let killed = 0;
    for (const name of subdirs(base)) {
      const m = /^server-(\d+)-\d+$/.exec(name);
      if (!m || name === me || serverName(Number(m[1])) === name) continue;
      const dir = path.join(base, name);
      const sessions = subdirs(dir).map((s) => new SessionCgroup(path.join(dir, s)));
      for (const s of sessions) {
        killed += s.procs().length;
        s.kill();
      }
      removeWhenEmpty([...sessions.map((s) => s.dir), dir]);
    }
    return killed;
  }

  /**
   * Hands out a new, empty cgroup for one session. A mkdir in cgroupfs builds every interface
   * file of the new cgroup under the kernel's cgroup lock: ~1.4 ms of event loop per login in
   * the connection-rate profile (0.2 ms on an idle machine). So a few are made ahead with
   * fs.promises (libuv's threads) and the launch path only takes one; those are named
   * `session-<random hex>`. Only when none is ready is one made here, named by `id` when it is
   * safe as a file name. A spare is the same root-owned, empty directory a fresh one is: no
   * process can join it but through the launcher, which only root starts.
   */
  create(id: string | undefined): SessionCgroup {
    const spare = this.spares.pop();
    this.refill();
    return spare ? new SessionCgroup(spare) : this.make(id);
  }

  private make(id: string | undefined): SessionCgroup {
    const safe = id && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : randomBytes(8).toString('hex');
    for (const name of [`session-${safe}`, `session-${safe}-${randomBytes(4).toString('hex')}`]) {
      const dir = path.join(this.dir, name);
      try {
        mkdirSync(dir);
        return new SessionCgroup(dir);
      } catch (err) {
        if (errno(err) === 'EEXIST') continue;
        throw new TeamsshError(CGROUP_FAILED, `cannot create session cgroup ${dir}: ${(err as Error).message}`, { cause: err });
      }
    }
    throw new TeamsshError(CGROUP_FAILED, `session cgroup names for ${safe} are taken`);
  }

  /** Spares kept ready; the first session starts the filling, so `teamssh check` makes none. */
  private refill(): void {
    while (this.spares.length + this.filling < SPARE_CGROUPS) {
      this.filling += 1;
      const dir = path.join(this.dir, `session-${randomBytes(8).toString('hex')}`);
      // A failure leaves the pool short; create() then makes one on the spot and reports its error.
      mkdir(dir).then(() => void this.spares.push(dir), () => undefined).finally(() => void (this.filling -= 1));
    }
  }

  /** Removes this server's directory at exit if no session cgroup is left in it; the next start removes what remains. */
  removeIfEmpty(): void {
    for (const dir of this.spares.splice(0)) {
      try {
        rmdirSync(dir);
      } catch {
        // Gone already, or the next server start removes it with the rest.
      }
    }
    try {
      rmdirSync(this.dir);
    } catch {
      // Still has sessions (ENOTEMPTY/EBUSY): the next server start ends and removes them.
    }
  }
}

/**
 * Removes cgroup directories in order once their processes are gone. The kill has been
 * sent; exiting takes the kernel a moment, so this retries in the background for a while.
 */
export function removeWhenEmpty(dirs: string[], attempts = 200): void {
  const pending = dirs.filter((d) => {
    try {
      rmdirSync(d);
      return false;
    } catch (err) {
      return errno(err) !== 'ENOENT';
    }
  });
  if (pending.length > 0 && attempts > 0) setTimeout(() => removeWhenEmpty(pending, attempts - 1), 50).unref();
}
