import { randomBytes } from 'node:crypto';
import { unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { GitHubPulse } from '../github/pulse.js';
import type { Route } from '../http/route.js';

/** One check's state as `/readyz` and `/healthz` report it. */
export interface CheckState {
  ok: boolean;
  [detail: string]: unknown;
}

/** One readiness check: reads its owner's state at the moment of the request. */
export type ReadinessCheck = () => CheckState | Promise<CheckState>;

/** What the uploader's checks ask of the process: `teamssh upload` and `teamssh serve` alike. */
export interface UploaderReadinessOptions {
  recordingsDir: string;
  /** True while uploading is paused by a 401 from the asciinema server. */
  uploadPaused: () => boolean;
}

/** What readiness asks of the rest of the server. */
export interface ReadinessOptions extends UploaderReadinessOptions {
  /** True while the SSH listener accepts connections. */
  sshListening: () => boolean;
  /** TEAMSSH_CACHE_MAX_STALE in ms: how long GitHub may fail before the node is not ready. */
  maxStaleMs: number;
  github: GitHubPulse;
}

// A hung filesystem (NFS) must make /readyz say so, not hang it.
const WRITE_PROBE_TIMEOUT_MS = 2_000;

/**
 * Whether this process should get work (new connections; for an uploader, a place in the
 * rotation). Each check reads the state of its owner at the moment of the request;
 * `drain()` (shutdown) turns the answer to not ready first, before anything else stops, so a
 * load balancer takes the node out before sessions are told.
 */
export class Readiness {
  #draining = false;

  constructor(private readonly checks: Readonly<Record<string, ReadinessCheck>>) {}

  /** From now on the node is not ready: it is shutting down. */
  drain(): void {
    this.#draining = true;
  }

  /** Every check, and whether all passed. */
  async check(): Promise<{ ready: boolean; checks: Record<string, CheckState> }> {
    const checks: Record<string, CheckState> = { shutdown: { ok: !this.#draining } };
    for (const [name, read] of Object.entries(this.checks)) checks[name] = await read();
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }
}

/** The readiness of `teamssh serve`: its SSH port and GitHub, and the in-process uploader's checks. */
export function serverReadiness(opts: ReadinessOptions): Readiness {
  return new Readiness({
    ssh_listener: () => ({ ok: opts.sshListening() }),
    github: () => ({ ...opts.github.state(opts.maxStaleMs), maxStaleSeconds: opts.maxStaleMs / 1000 }),
    ...uploaderChecks(opts),
  });
}

/** The readiness of `teamssh upload`: the checks that mean something without an SSH server. */
export function uploaderReadiness(opts: UploaderReadinessOptions): Readiness {
  return new Readiness(uploaderChecks(opts));
}

function uploaderChecks(opts: UploaderReadinessOptions): Record<string, ReadinessCheck> {
  return {
    recordings_dir: () => writable(opts.recordingsDir),
    upload: () => {
      const paused = opts.uploadPaused();
      return { ok: !paused, paused };
    },
  };
}

/** Writes and removes a probe file: the only test that holds for root too (root ignores modes, not ENOSPC, EROFS or a missing directory). */
async function writable(dir: string): Promise<CheckState> {
  // A dot name that does not end in .cast: the uploader and crash recovery ignore it.
  const probe = path.join(dir, `.readyz-${process.pid}-${randomBytes(4).toString('hex')}`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), WRITE_PROBE_TIMEOUT_MS);
  });
  try {
    await Promise.race([writeFile(probe, '', { flag: 'wx' }), timeout]);
    await unlink(probe).catch(() => undefined);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: (err as NodeJS.ErrnoException).code ?? 'EIO' };
  } finally {
    clearTimeout(timer);
  }
}

/** `GET /healthz` (the event loop answers) and `GET /readyz` (every readiness check passes, else 503). */
export function healthRoutes(readiness: Readiness): Route[] {
  const started = Date.now();
  return [
    {
      method: 'GET',
      path: '/healthz',
      handle: () => ({ status: 200, body: { status: 'ok', checks: { event_loop: { ok: true, uptimeSeconds: Math.round((Date.now() - started) / 1000) } } } }),
    },
    {
      method: 'GET',
      path: '/readyz',
      async handle() {
        const { ready, checks } = await readiness.check();
        return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not_ready', checks } };
      },
    },
  ];
}
