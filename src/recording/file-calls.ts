import fs from 'node:fs';
import path from 'node:path';

/**
 * The small file-system calls of a recording's bookkeeping (a write of a few hundred bytes,
 * close, rename, the read of a sidecar or a signature: ~20 per login, around the session's start
 * and its end), made directly on the event loop when the directory is on a local filesystem and
 * through libuv's threads otherwise. Creating a file, unlinking one and fsync always go through
 * libuv's threads.
 *
 * Why: through libuv's threads every call is a hand-off to a pool thread and back (a futex wake,
 * an eventfd write, an epoll wake-up). On the 2-core benchmark machine an open, write, close and
 * rename of a small file cost ~290 µs of CPU that way against ~95 µs made directly, and with
 * these calls made directly the server's CPU per login (upload included) went from 21.4 to 18.3
 * ms and the connection rate up ~6% (bench/README.md, "Seventh round: a recording's small file
 * calls"). On a local filesystem they touch the page cache and the journal, not the disk.
 *
 * Not all of them: on ext4 under the connection-rate workload, timed on the event loop, creating
 * a file (inode allocation) took 74 µs at the median and 318 µs at p90, and an unlink 235 µs and
 * 880 µs, waiting for the journal that the sessions' fsyncs keep committing, against 7-40 µs
 * medians for the others. Made directly, those two put a keystroke's echo p90 under the same
 * load at 11-12 ms instead of 6-7; they stay on the pool, which keeps it at 7-10 ms. On a
 * network filesystem (NFS, SMB, FUSE...) every call is a round trip to a server that may stall,
 * so there all of them stay off the event loop, and so do the session's streaming writes
 * everywhere (src/recording/cast-writer.ts): large writes can wait for writeback.
 *
 * Every method returns a promise either way, so callers are written once.
 */
export interface FileCalls {
  /** Creates a new file (exclusive) for writing; always through libuv's threads. */
  create(file: string, mode: number): Promise<number>;
  /** Opens a directory, to fsync it. */
  openDir(dir: string): Promise<number>;
  /** Writes all of `data` at the file's position. */
  write(fd: number, data: string | Buffer): Promise<void>;
  close(fd: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Always through libuv's threads. */
  unlink(file: string): Promise<void>;
  /** A whole small file (a sidecar, a signature); never a recording of unknown size. */
  readSmall(file: string): Promise<Buffer>;
  size(file: string): Promise<number>;
  /** Makes `dir` and its missing parents; an existing directory is fine. */
  mkdirs(dir: string): Promise<void>;
  /** Always through libuv's threads. */
  fsync(fd: number): Promise<void>;
}

// statfs(2) f_type of filesystems whose metadata calls stay on this machine (linux/magic.h):
// ext2/3/4, XFS, Btrfs, tmpfs, ramfs, F2FS, ZFS, bcachefs, and overlayfs (a container's root,
// whose upper layer is one of these). Anything else, known or not, is treated as remote.
const LOCAL_FS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x858458f6, 0xf2f52010, 0x2fc12fc1, 0xca451a4e, 0x794c7630]);

/** Whether a statfs(2) filesystem type is one whose small calls may run on the event loop. */
export function isLocalFsType(type: number): boolean {
  return LOCAL_FS.has(type);
}

// `fs.renameSync` and `fs.promises.rename` are looked up at each call, not bound once, so a test
// can stop the process at a given rename whichever way it is made (test/support/kill-at-rename.ts).
// fs.promises has no calls on bare descriptors (open, fsync, close): those take callbacks.
const pooled = {
  open: (file: string, flags: string, mode?: number): Promise<number> => new Promise((resolve, reject) => fs.open(file, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd)))),
  fsync: (fd: number): Promise<void> => new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve()))),
};

const direct: FileCalls = {
  create: (file, mode) => pooled.open(file, 'wx', mode),
  openDir: async (dir) => fs.openSync(dir, 'r'),
  write: async (fd, data) => {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    // A regular file may take only part of a write (disk filling up); the next write says why.
    for (let off = 0; off < buf.length; ) {
      const n = fs.writeSync(fd, buf, off);
      if (n === 0) throw new Error('write made no progress');
      off += n;
    }
  },
  close: async (fd) => fs.closeSync(fd),
  rename: async (from, to) => fs.renameSync(from, to),
  unlink: (file) => fs.promises.unlink(file),
  readSmall: async (file) => fs.readFileSync(file),
  size: async (file) => fs.statSync(file).size,
  mkdirs: async (dir) => void fs.mkdirSync(dir, { recursive: true }),
  fsync: pooled.fsync,
};

const threaded: FileCalls = {
  create: (file, mode) => pooled.open(file, 'wx', mode),
  openDir: (dir) => pooled.open(dir, 'r'),
  write: async (fd, data) => {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < buf.length; ) {
      const n = await new Promise<number>((resolve, reject) => fs.write(fd, buf, off, buf.length - off, null, (err, written) => (err ? reject(err) : resolve(written))));
      if (n === 0) throw new Error('write made no progress');
      off += n;
    }
  },
  close: (fd) => new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve()))),
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (file) => fs.promises.unlink(file),
  readSmall: (file) => fs.promises.readFile(file),
  size: async (file) => (await fs.promises.stat(file)).size,
  mkdirs: async (dir) => void (await fs.promises.mkdir(dir, { recursive: true })),
  fsync: pooled.fsync,
};

/** The two ways, for tests that must cover both whatever filesystem they run on. */
export const FILE_CALLS = { direct, threaded } as const;

const byDir = new Map<string, Promise<FileCalls>>();

/**
 * The calls for files in `dir`, chosen once per directory by its filesystem type (one statfs,
 * through libuv's threads). A directory that does not exist yet (`failed/` until a recording
 * fails) gets its parent's: once made, it is on its parent's filesystem. One that cannot be
 * examined otherwise gets the threaded calls and is asked again next time.
 */
export function fileCallsFor(dir: string): Promise<FileCalls> {
  let calls = byDir.get(dir);
  if (!calls) {
    calls = fs.promises.statfs(dir).then(
      (st) => (isLocalFsType(st.type) ? direct : threaded),
      (err: NodeJS.ErrnoException) => {
        const parent = path.dirname(dir);
        if (err.code === 'ENOENT' && parent !== dir) return fileCallsFor(parent);
        byDir.delete(dir);
        return threaded;
      },
    );
    byDir.set(dir, calls);
  }
  return calls;
}

/**
 * Writes `data` to a new file (exclusive, `mode`), optionally fsyncs it, and closes it; on a
 * failure the half-written file is removed. The pattern of every atomic write here (the
 * temporary file of a sidecar or a signature, renamed into place by the caller).
 */
export async function writeNewFile(calls: FileCalls, file: string, data: string | Buffer, { mode = 0o600, durable = true }: { mode?: number; durable?: boolean } = {}): Promise<void> {
  const fd = await calls.create(file, mode);
  try {
    await calls.write(fd, data);
    if (durable) await calls.fsync(fd);
  } catch (err) {
    await calls.close(fd).catch(() => {});
    await calls.unlink(file).catch(() => {});
    throw err;
  }
  await calls.close(fd);
}
