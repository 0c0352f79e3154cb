import fs from 'node:fs';

/**
 * The small file-system calls of a recording's bookkeeping (open, a write of a few hundred bytes,
 * close, rename, unlink: ~20 per login, around the session's start and its end), made directly
 * on the event loop when the directory is on a local filesystem and through libuv's threads
 * otherwise. fsync always goes through libuv's threads: it waits for the disk.
 *
 * Why: through libuv's threads every call is a hand-off to a pool thread and back (a futex wake,
 * an eventfd write, an epoll wake-up). On the 2-core benchmark machine an open, write, close and
 * rename of a small file cost ~290 µs of CPU that way against ~95 µs made directly, and with the
 * recorder's calls made directly the server's CPU per login went from 15.4 to 13.1 ms and the
 * connection rate up 8% (bench/README.md, "Seventh round: a recording's small file calls"). On a local
 * filesystem these calls touch the page cache and the journal, not the disk, as Redis's writes
 * do (Redis, too, writes in its event loop and leaves fsync to a background thread). On a
 * network filesystem (NFS, SMB, FUSE...) each one is a round trip to a server that may stall,
 * so there they stay off the event loop. The streaming writes of a session's output stay on
 * libuv's threads everywhere (src/recording/cast-writer.ts): large writes can wait for writeback.
 *
 * Every method returns a promise either way, so callers are written once.
 */
export interface FileCalls {
  /** True when the calls run on the event loop (local filesystem). */
  readonly direct: boolean;
  open(file: string, flags: string | number, mode?: number): Promise<number>;
  /** Writes all of `data` at the file's position. */
  write(fd: number, data: string | Buffer): Promise<void>;
  close(fd: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
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

const fsync = (fd: number): Promise<void> => new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));

// `fs.xxxSync` and `fs.xxx` are looked up at each call, not bound once, so a test can stop the
// process at a given rename whichever way it is made (test/support/kill-at-rename.ts).
const direct: FileCalls = {
  direct: true,
  open: async (file, flags, mode) => fs.openSync(file, flags, mode),
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
  unlink: async (file) => fs.unlinkSync(file),
  readSmall: async (file) => fs.readFileSync(file),
  size: async (file) => fs.statSync(file).size,
  mkdirs: async (dir) => void fs.mkdirSync(dir, { recursive: true }),
  fsync,
};

const threaded: FileCalls = {
  direct: false,
  open: (file, flags, mode) => new Promise((resolve, reject) => fs.open(file, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd)))),
  write: async (fd, data) => {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < buf.length; ) {
      const n = await new Promise<number>((resolve, reject) => fs.write(fd, buf, off, buf.length - off, null, (err, written) => (err ? reject(err) : resolve(written))));
      if (n === 0) throw new Error('write made no progress');
      off += n;
    }
  },
  close: (fd) => new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve()))),
  rename: (from, to) => new Promise((resolve, reject) => fs.rename(from, to, (err) => (err ? reject(err) : resolve()))),
  unlink: (file) => new Promise((resolve, reject) => fs.unlink(file, (err) => (err ? reject(err) : resolve()))),
  readSmall: (file) => fs.promises.readFile(file),
  size: async (file) => (await fs.promises.stat(file)).size,
  mkdirs: async (dir) => void (await fs.promises.mkdir(dir, { recursive: true })),
  fsync,
};

/** The two ways, for tests that must cover both whatever filesystem they run on. */
export const FILE_CALLS = { direct, threaded } as const;

const byDir = new Map<string, Promise<FileCalls>>();

/**
 * The calls for files in `dir`, chosen once per directory by its filesystem type (one statfs,
 * through libuv's threads). A directory that cannot be examined gets the threaded calls.
 */
export function fileCallsFor(dir: string): Promise<FileCalls> {
  let calls = byDir.get(dir);
  if (!calls) {
    calls = fs.promises.statfs(dir).then(
      (st) => (isLocalFsType(st.type) ? direct : threaded),
      () => {
        // A directory that is not there yet is asked again next time, once it may exist.
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
  const fd = await calls.open(file, 'wx', mode);
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
