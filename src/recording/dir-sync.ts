import { fileCallsFor } from './file-calls.js';

/**
 * Directory fsyncs shared between sessions (group commit). Every finished recording ends with
 * an fsync of the recordings directory so its renames survive a power cut; at 20 logins at a
 * time, sessions end in bursts and each paid an open, an fsync and a close of the same
 * directory on libuv's threads. One sync covers every rename done before it started, so a
 * caller that comes while one is running waits for the next one, and everyone who comes in
 * the meantime shares that next one: never more than one running and one waiting per directory.
 */

type SyncOnce = (dir: string) => Promise<void>;

/** Opens `dir` and fsyncs it: the one real sync (the open and close made as src/recording/file-calls.ts says). */
async function syncOnce(dir: string): Promise<void> {
  const calls = await fileCallsFor(dir);
  const fd = await calls.openDir(dir);
  try {
    await calls.fsync(fd);
  } finally {
    await calls.close(fd);
  }
}

/** Makes a group-committing directory fsync over `sync` (injectable so tests can hold a sync open). */
export function dirSyncer(sync: SyncOnce = syncOnce): (dir: string) => Promise<void> {
  const state = new Map<string, { running: Promise<void>; next?: Promise<void> }>();
  const start = (dir: string): Promise<void> => {
    const running = sync(dir);
    state.set(dir, { running });
    const done = () => {
      if (state.get(dir)?.running === running) state.delete(dir);
    };
    running.then(done, done);
    return running;
  };
  return (dir) => {
    const s = state.get(dir);
    if (!s) return start(dir);
    // The running sync may have begun before this caller's rename: it cannot vouch for it.
    return (s.next ??= s.running.then(noop, noop).then(() => start(dir)));
  };
}

const noop = () => undefined;
