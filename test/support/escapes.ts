import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readProcStat } from '../../src/launch/process-tree.js';

/** The ways a program leaves a process behind that the Unix session and process group do not hold. */
export const ESCAPES = ['setsid', 'nohup', 'double-fork'] as const;
/** One of ESCAPES. */
export type Escape = (typeof ESCAPES)[number];

// leaf.sh writes its pid, then becomes the process left behind.
const LEAF = `#!/bin/sh
echo $$ > "$1"
exec sleep 4444
`;

// escape.sh HOW PIDFILE: leaves leaf.sh running the way HOW says and returns once it runs,
// so a test knows the escaped process really started before the session ended.
//   setsid       a new Unix session and process group (the reproduction)
//   nohup        ignores SIGHUP; its parent (this script) exits at once
//   double-fork  fork, setsid, fork again, middle exits: a classic daemon, parented to init
const ESCAPE = `#!/bin/sh
leaf="$(dirname "$0")/leaf.sh"
case "$1" in
  setsid) setsid "$leaf" "$2" >/dev/null 2>&1 </dev/null & ;;
  nohup) nohup "$leaf" "$2" >/dev/null 2>&1 </dev/null & ;;
  double-fork) ( setsid sh -c '"$0" "$1" & exit 0' "$leaf" "$2" >/dev/null 2>&1 </dev/null & ) ;;
  *) echo "escape.sh: unknown $1" >&2; exit 2 ;;
esac
while [ ! -s "$2" ]; do sleep 0.02; done
`;

/** A directory with escape.sh, readable by every account, and a place for their pid files. */
export class EscapeKit {
  private n = 0;
  private constructor(readonly dir: string) {}

  /** Writes the scripts into a new temporary directory. */
  static async create(): Promise<EscapeKit> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'teamssh-escape-'));
    await writeFile(path.join(dir, 'leaf.sh'), LEAF, { mode: 0o755 });
    await writeFile(path.join(dir, 'escape.sh'), ESCAPE, { mode: 0o755 });
    // Session accounts write their pid files here.
    await chmod(dir, 0o1777);
    return new EscapeKit(dir);
  }

  /** A shell command that leaves a process behind `how`, and the file its pid will be in. */
  command(how: Escape): { cmd: string; pidFile: string } {
    const pidFile = path.join(this.dir, `${how}-${++this.n}.pid`);
    return { cmd: `${path.join(this.dir, 'escape.sh')} ${how} ${pidFile}`, pidFile };
  }

  /** Removes the directory. */
  remove(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}

/** The pid an escaped process wrote. */
export async function escapedPid(pidFile: string): Promise<number> {
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  if (!(pid > 0)) throw new Error(`no pid in ${pidFile}`);
  return pid;
}

/** True while `pid` runs `sleep 4444` (a zombie or a reused pid does not count). */
export function escapedAlive(pid: number): boolean {
  const st = readProcStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1') === 'sleep\u00004444\u0000';
  } catch {
    return false;
  }
}

/** Kills what a failed test left running, so one failure does not leak into the next run. */
export function killEscaped(pids: Iterable<number>): void {
  for (const pid of pids) {
    if (!escapedAlive(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}
