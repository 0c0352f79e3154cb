import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Gauge } from 'prom-client';
import { BOTH_ROLES, registry } from './metrics.js';

/**
 * Gauges of live state. Their owners (the session registry, the connection gate, the
 * recordings directory, the upload gate) stay the one source of truth: each gauge asks them
 * when Prometheus scrapes, so no counter kept beside them can drift from what is really live.
 * Several servers in one process (tests) are summed.
 */

/** What a running SSH server reports about itself. */
export interface ServerGaugeSource {
  /** SSH connections open (authenticated or not). */
  connections(): number;
  /** Connections still waiting to authenticate. */
  unauthenticated(): number;
  /** Kinds (`shell`, `exec`) of the registered live sessions. */
  sessionKinds(): Iterable<string>;
}

const servers = new Set<ServerGaugeSource>();
const recordingDirs = new Map<string, number>();
const pausedUploaders = new Set<object>();

/** Counts a running server in the gauges until the returned function is called. */
export function watchServer(source: ServerGaugeSource): () => void {
  servers.add(source);
  return () => servers.delete(source);
}

/** Counts the recordings waiting in `dir` in `teamssh_recordings_pending` until the returned function is called. */
export function watchRecordingsDir(dir: string): () => void {
  const key = path.resolve(dir);
  recordingDirs.set(key, (recordingDirs.get(key) ?? 0) + 1);
  let watching = true;
  return () => {
    if (!watching) return;
    watching = false;
    const n = (recordingDirs.get(key) ?? 1) - 1;
    if (n > 0) recordingDirs.set(key, n);
    else recordingDirs.delete(key);
  };
}

/** Marks an uploader (its upload gate) paused by a 401, or not. */
export function setUploadPaused(uploader: object, paused: boolean): void {
  if (paused) pausedUploaders.add(uploader);
  else pausedUploaders.delete(uploader);
}

/** True while any uploader in this process is paused by a 401. */
export function uploadPaused(): boolean {
  return pausedUploaders.size > 0;
}

const sum = (f: (s: ServerGaugeSource) => number): number => [...servers].reduce((n, s) => n + f(s), 0);

new Gauge({
  name: 'teamssh_connections_active',
  help: 'SSH connections open, authenticated or not.',
  registers: [registry],
  collect() {
    this.set(sum((s) => s.connections()));
  },
});

new Gauge({
  name: 'teamssh_unauthenticated_connections',
  help: 'SSH connections that have not authenticated yet (capped by TEAMSSH_MAX_UNAUTHENTICATED).',
  registers: [registry],
  collect() {
    this.set(sum((s) => s.unauthenticated()));
  },
});

new Gauge({
  name: 'teamssh_sessions_active',
  help: 'Live sessions, by kind (shell, exec).',
  labelNames: ['kind'] as const,
  registers: [registry],
  collect() {
    const counts = new Map<string, number>([['shell', 0], ['exec', 0]]);
    for (const s of servers) for (const kind of s.sessionKinds()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
    for (const [kind, n] of counts) this.set({ kind }, n);
  },
});

new Gauge({
  name: 'teamssh_recordings_pending',
  help: 'Finished recordings in the recordings directory not yet uploaded (queued or being uploaded).',
  registers: BOTH_ROLES,
  async collect() {
    let n = 0;
    for (const dir of recordingDirs.keys()) n += await pendingIn(dir);
    this.set(n);
  },
});

new Gauge({
  name: 'teamssh_upload_paused',
  help: '1 while uploading is paused because the asciinema server refuses the install id (401).',
  registers: BOTH_ROLES,
  collect() {
    this.set(uploadPaused() ? 1 : 0);
  },
});

/** Finished (`NAME.cast`) and claimed (`NAME.cast.claim.…`) recordings at the top of `dir`; a missing directory holds none. */
async function pendingIn(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.cast') || n.includes('.cast.claim.')).length;
}
