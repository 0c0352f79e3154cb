import { readFileSync } from 'node:fs';
import path from 'node:path';

/** One line of /proc/self/mountinfo, the fields this module needs. */
export interface MountEntry {
  /** The directory of the filesystem that is mounted here ("/" unless a bind mount or a cgroup namespace). */
  root: string;
  mountPoint: string;
  fstype: string;
  /** Per-mount options ("rw,relatime"). */
  options: string[];
}

/** Where the server's own cgroup v2 directory is, or why there is none. */
export type OwnCgroup = { ok: true; dir: string; mountPoint: string } | { ok: false; reason: string };

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Parses /proc/PID/mountinfo (proc(5)): "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS".
 * The optional fields vary in number, so the filesystem type is found after the lone "-".
 */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (f.length < 10 || dash < 0) continue;
    out.push({ root: unescape(f[3]!), mountPoint: unescape(f[4]!), fstype: f[dash + 1]!, options: f[5]!.split(',') });
  }
  return out;
}

/** The cgroup v2 path of a process from /proc/PID/cgroup: the "0::PATH" line (cgroups(7)). */
export function parseUnifiedPath(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('0::')) return line.slice(3);
  }
  return undefined;
}

/**
 * Finds the directory of a cgroup v2 path in the mounted hierarchy. Pure, for tests: the
 * unified hierarchy sits at /sys/fs/cgroup on systemd hosts and at /sys/fs/cgroup/unified
 * in the hybrid layout, and a container may mount only a subtree of it (ROOT is then the
 * subtree), so nothing here assumes a path (docs/external-systems.md §9).
 */
export function locateOwnCgroup(mountinfo: string, selfCgroup: string): OwnCgroup {
  const own = parseUnifiedPath(selfCgroup);
  if (own === undefined) return { ok: false, reason: 'this process is in no cgroup v2 hierarchy' };
  const mounts = parseMountinfo(mountinfo).filter((m) => m.fstype === 'cgroup2');
  if (mounts.length === 0) return { ok: false, reason: 'no cgroup2 filesystem is mounted' };
  // " (deleted)" marks a cgroup removed under us; there is nothing to build on then.
  if (own.endsWith(' (deleted)')) return { ok: false, reason: `own cgroup ${own} was removed` };
  for (const m of mounts) {
    const rel = path.posix.relative(m.root, own);
    if (rel.startsWith('..') || path.posix.isAbsolute(rel)) continue;
    if (!m.options.includes('rw')) continue;
    return { ok: true, dir: path.join(m.mountPoint, rel), mountPoint: m.mountPoint };
  }
  const ro = mounts.every((m) => !m.options.includes('rw'));
  return { ok: false, reason: ro ? 'cgroup2 is mounted read-only' : `own cgroup ${own} is outside every cgroup2 mount` };
}

/** locateOwnCgroup for this process, from /proc/self. */
export function ownCgroup(): OwnCgroup {
  let mountinfo: string;
  let self: string;
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    self = readFileSync('/proc/self/cgroup', 'utf8');
  } catch (err) {
    return { ok: false, reason: `cannot read /proc/self: ${(err as Error).message}` };
  }
  return locateOwnCgroup(mountinfo, self);
}
