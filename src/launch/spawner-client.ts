import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { signalName } from './process-events.js';
import { send } from './process-tree.js';
import type { LaunchCommand } from './launch-args.js';
import type { ExitInfo } from './program.js';

/** Where `npm run build` puts the spawner: dist/teamssh-spawner, seen from dist/src/launch/. */
export const DEFAULT_SPAWNER_PATH = fileURLToPath(new URL('../../teamssh-spawner', import.meta.url));

/** A started launcher: its pid (= its process group) and the server's ends of its stdio. */
export interface SpawnedChild {
  pid: number;
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
}

/** What a caller hears about one launch, each at most once, `started` before `exited`. */
export interface LaunchEvents {
  started(child: SpawnedChild): void;
  /** The launcher's exit status; its output may still be arriving on stdout/stderr. */
  exited(info: ExitInfo): void;
  /** It never started; nothing is running for it. */
  failed(err: Error): void;
}

// Exit status reported when the spawner died before it could reap a started session:
// the status is lost with it, and 255 is what OpenSSH's client reports for "unknown".
const STATUS_LOST: ExitInfo = { code: 255, signal: null };
// A spawner that dies this often is broken; sessions go back to child_process.spawn.
const MAX_RESTARTS = 5;
// A request larger than this is not sent (the spawner drops lines over 1 MiB).
const MAX_REQUEST = 512 * 1024;

interface Pending {
  events: LaunchEvents;
  pid: number;
  streams: Array<Socket | undefined>;
  child: SpawnedChild | undefined;
}

interface HandleMsg {
  id: number;
  pid?: number;
  stream?: number;
  code?: number;
  signal?: number;
  error?: string;
}

/**
 * One teamssh-spawner process (src/launch/spawner.c; docs/spawner.md has the protocol),
 * started on first use and shared by every pipe session that uses the same launcher.
 */
class Spawner {
  private readonly proc: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private state: 'running' | 'dead' = 'running';

  constructor(spawnerPath: string, launcher: string, private readonly onDeath: () => void) {
    this.proc = spawn(spawnerPath, [launcher, String(process.pid)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: {}, cwd: '/' });
    this.proc.unref();
    this.proc.channel?.unref();
    this.proc.on('message', (m: HandleMsg, handle?: unknown) => this.onMessage(m, handle));
    this.proc.on('error', () => this.die());
    this.proc.on('exit', () => this.die());
    this.proc.on('disconnect', () => this.die());
  }

  get alive(): boolean {
    return this.state === 'running' && this.proc.connected;
  }

  /**
   * Asks for one launch; the answer comes through `events`. If the request provably never
   * reached the spawner (the write failed), `direct` starts it instead.
   */
  launch(cmd: LaunchCommand, env: Record<string, string>, events: LaunchEvents, direct: () => void): void {
    const id = this.nextId++;
    const argv = [cmd.launcher, ...cmd.args];
    const envList = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    // child_process.spawn refuses NUL bytes the same way; C strings cannot carry them.
    if ([...argv, ...envList].some((s) => s.includes('\0'))) {
      queueMicrotask(() => events.failed(new Error('argument or environment contains a NUL byte')));
      return;
    }
    this.pending.set(id, { events, pid: -1, streams: [], child: undefined });
    this.refresh();
    this.proc.send({ cmd: 'spawn', id, argv, env: envList }, (err) => {
      if (!err) return;
      if (this.pending.delete(id)) {
        try {
          direct();
        } catch (e) {
          events.failed(e instanceof Error ? e : new Error(String(e)));
        }
      }
      this.die();
    });
  }

  /** Fits in one request line. */
  static fits(cmd: LaunchCommand, env: Record<string, string>): boolean {
    let n = 0;
    for (const s of cmd.args) n += s.length + 3;
    for (const [k, v] of Object.entries(env)) n += k.length + v.length + 4;
    return n * 6 < MAX_REQUEST; // "\u0001" is 6 bytes for 1 character
  }

  private onMessage(m: HandleMsg, handle: unknown): void {
    if (typeof m !== 'object' || m === null) return; // not from our spawner's protocol
    const p = this.pending.get(m.id);
    if (handle !== undefined) {
      const k = m.stream ?? -1;
      if (!p || p.child || k < 0 || k > 2 || p.streams[k]) {
        (handle as { close?: () => void }).close?.();
        return;
      }
      p.pid = m.pid ?? -1;
      // stdin is only written, stdout and stderr only read, as child_process sets up its pipes.
      p.streams[k] = new Socket({ handle, readable: k !== 0, writable: k === 0 } as ConstructorParameters<typeof Socket>[0]);
      const [stdin, stdout, stderr] = p.streams;
      if (stdin && stdout && stderr) {
        p.child = { pid: p.pid, stdin, stdout, stderr };
        p.events.started(p.child);
      }
      return;
    }
    if (!p) return;
    this.pending.delete(m.id);
    this.refresh();
    if (m.error !== undefined) p.events.failed(new Error(`session spawner: ${m.error}`));
    else if (!p.child) p.events.failed(new Error('session spawner: exit before stdio'));
    else if (m.signal !== undefined) p.events.exited({ code: null, signal: signalName(m.signal) });
    else p.events.exited({ code: m.code ?? STATUS_LOST.code, signal: null });
  }

  /** The channel keeps the server alive only while a launch is waiting for its answer. */
  private refresh(): void {
    if (this.pending.size > 0) this.proc.channel?.ref();
    else this.proc.channel?.unref();
  }

  private die(): void {
    if (this.state === 'dead') return;
    this.state = 'dead';
    this.onDeath();
    this.proc.kill('SIGKILL');
    for (const p of this.pending.values()) {
      if (!p.child) {
        // Started without all its stdio: nobody could talk to it, so it must not run on.
        if (p.pid > 0) killGroup(p.pid);
        for (const s of p.streams) s?.destroy();
        p.events.failed(new Error('session spawner stopped'));
        continue;
      }
      // Running, but its exit status went with the spawner: report once its output is over.
      const { stdout, stderr } = p.child;
      let open = 2;
      const closed = () => {
        if (--open === 0) p.events.exited(STATUS_LOST);
      };
      for (const s of [stdout, stderr]) {
        if (s.closed) closed();
        else s.once('close', closed);
      }
    }
    this.pending.clear();
  }
}

function killGroup(pid: number): void {
  send(-pid, 'SIGKILL');
  send(pid, 'SIGKILL');
}

const spawners = new Map<string, Spawner>();
let restarts = 0;

/** What a spawner's death means for the sessions after it. */
export interface SpawnerDeath {
  /** Deaths so far in this process. */
  deaths: number;
  /** True once sessions go back to the direct spawn for good (MAX_RESTARTS passed). */
  directForGood: boolean;
}

const deathListeners = new Set<(d: SpawnerDeath) => void>();

/**
 * Calls `listener` whenever a spawner dies. The launch code has no logger of its own; the
 * server registers one so an operator sees why logins got slower (the fallback is silent
 * otherwise). Returns the function that removes the listener.
 */
export function onSpawnerDeath(listener: (d: SpawnerDeath) => void): () => void {
  deathListeners.add(listener);
  return () => deathListeners.delete(listener);
}

/**
 * Starts the launcher command through the shared spawner and returns true, or returns
 * false when there is no usable spawner (not built, or it kept dying) and the caller must
 * spawn directly. Falling back is safe: the launcher, not the spawner, enforces identity
 * and descriptor hygiene, so the direct path only costs the fork of the server (~5 ms).
 */
export function launchThroughSpawner(
  cmd: LaunchCommand,
  env: Record<string, string>,
  events: LaunchEvents,
  direct: () => void,
  spawnerPath = DEFAULT_SPAWNER_PATH,
): boolean {
  if (restarts > MAX_RESTARTS || !Spawner.fits(cmd, env)) return false;
  let s = spawners.get(cmd.launcher);
  if (!s?.alive) {
    try {
      accessSync(spawnerPath, constants.X_OK);
    } catch {
      return false;
    }
    const launcher = cmd.launcher;
    try {
      s = new Spawner(spawnerPath, launcher, () => {
        restarts++;
        if (spawners.get(launcher) === s) spawners.delete(launcher);
        for (const l of deathListeners) l({ deaths: restarts, directForGood: restarts > MAX_RESTARTS });
      });
    } catch {
      return false; // EMFILE and the like: the direct spawn reports it as it always has
    }
    spawners.set(launcher, s);
  }
  s.launch(cmd, env, events, direct);
  return true;
}
