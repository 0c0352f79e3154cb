import type { SessionFacts } from '../../src/recording/sidecar.js';
import { liveDirOf } from '../../src/recording/recordings-dir.js';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Test recordings written the way the recorder writes them: live/NAME.cast.part, then the
 * sidecar NAME.json atomically, then the rename to NAME.cast, so a watcher never sees half a file.
 */

/** What to put in a generated recording. */
export interface RecordingSpec {
  /** Number of output events (default 5). */
  events?: number;
  /** Characters of output per event (default 20). */
  eventChars?: number;
  title?: string;
  login?: string;
  /** Extra or replacing sidecar fields. */
  sidecar?: Record<string, unknown>;
  /** Raw file content instead of a generated recording (for invalid ones). */
  raw?: string;
}

/** A generated recording. */
export interface WrittenRecording {
  name: string;
  castPath: string;
  sidecarPath: string;
  text: string;
  sha256: string;
  bytes: number;
}

/** Valid asciicast v2 text with `events` output events of `eventChars` characters each. */
export function castText(events = 5, eventChars = 20, title?: string): string {
  const header = { version: 2, width: 80, height: 24, timestamp: 1_700_000_000, env: { TERM: 'xterm-256color', SHELL: '/bin/bash' }, ...(title ? { title } : {}) };
  const lines = [JSON.stringify(header)];
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789 é✓'.repeat(Math.ceil(eventChars / 38) + 1);
  for (let i = 0; i < events; i++) lines.push(JSON.stringify([Math.round(i * 0.137 * 1e6) / 1e6, 'o', `${i}:${filler.slice(0, eventChars)}\r\n`]));
  return `${lines.join('\n')}\n`;
}

/** Writes `NAME.cast` with its sidecar into `dir` like the recorder does. */
export async function writeRecording(dir: string, name: string, spec: RecordingSpec = {}): Promise<WrittenRecording> {
  await fs.mkdir(dir, { recursive: true });
  const text = spec.raw ?? castText(spec.events ?? 5, spec.eventChars ?? 20, spec.title);
  const castPath = path.join(dir, `${name}.cast`);
  const sidecarPath = path.join(dir, `${name}.json`);
  const sha256 = createHash('sha256').update(text).digest('hex');
  const bytes = Buffer.byteLength(text);
  const part = path.join(liveDirOf(dir), `${name}.cast.part`);
  await fs.mkdir(path.dirname(part), { recursive: true });
  await fs.writeFile(part, text, { mode: 0o600 });
  const sidecar = {
    login: spec.login ?? 'alice',
    team: 'ops',
    fingerprint: 'SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
    remoteAddress: '192.0.2.7',
    remotePort: 50522,
    sessionId: `s-${name}`,
    account: 'ops',
    exitStatus: 0,
    endReason: 'exit',
    title: spec.title ?? `alice@teamssh ${name}`,
    teamsshVersion: '0.1.0',
    file: `${name}.cast`,
    sha256,
    bytes,
    events: spec.events ?? 5,
    complete: true,
    ...spec.sidecar,
  };
  const tmp = path.join(liveDirOf(dir), `.${name}.json.tmp`);
  await fs.writeFile(tmp, JSON.stringify(sidecar, null, 2));
  await fs.rename(tmp, sidecarPath);
  await fs.rename(part, castPath);
  return { name, castPath, sidecarPath, text, sha256, bytes };
}

/** Reads a JSON file. */
export async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
}

/** A complete SessionFacts for recorder tests, with `over` applied. */
export function sessionFacts(over: Partial<SessionFacts> = {}): SessionFacts {
  return {
    sessionId: 's1', login: 'alice', team: 'ops', fingerprint: 'SHA256:x', remoteAddress: '127.0.0.1', remotePort: 1,
    account: 'alice', kind: 'shell', command: null, handler: null, startedAt: '2026-11-23T10:00:00.000Z', teamsshVersion: 'test', title: 't',
    ...over,
  };
}
