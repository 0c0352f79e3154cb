import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { Sidecar } from './sidecar.js';

/**
 * Reading back what a finish cut short by a crash left in temporary files. `Recorder.finish`
 * writes the sidecar `NAME.json` (with the session's outcome: exit status, end reason, end
 * time) through `.NAME.json.<host>.<pid>.<random>.tmp`, fsynced, then renames it; a kill -9
 * between the two leaves the only copy of the outcome in that file. Recovery takes from it
 * what is true of the session whatever became of the bytes, and everything else only when it
 * describes exactly the file recovery holds (docs/recordings-layout.md, "What recovery reads
 * back"). A temp that does not parse, names another recording or session, or carries a field
 * of the wrong type is not used at all: it may be torn, and recovery never guesses.
 */

type Check = (v: unknown) => boolean;
const str: Check = (v) => typeof v === 'string';
const strOrNull: Check = (v) => v === null || typeof v === 'string';
const int: Check = (v) => Number.isSafeInteger(v);
const intOrNull: Check = (v) => v === null || Number.isSafeInteger(v);
const time: Check = (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v));

/** How the session ended (SessionOutcome): only the session knew it, and it holds whatever happened to the file. */
const OUTCOME: Record<string, Check> = {
  exitStatus: intOrNull, exitSignal: strOrNull, endReason: str, endedAt: time,
  revocationReason: str, revocationTrigger: str, deliveryId: str, killedByUid: int, killedBySudoUid: int,
};

/** Who and what (SessionFacts): the early sidecar has them too, but it is written without fsync and may be gone. */
const IDENTITY: Record<string, Check> = {
  sessionId: str, login: str, team: strOrNull, fingerprint: str, remoteAddress: str, remotePort: int,
  account: strOrNull, kind: (v) => v === 'shell' || v === 'exec', command: strOrNull, handler: strOrNull,
  startedAt: time, teamsshVersion: str, title: str,
  target: str, targetHost: str, targetPort: int, targetUser: str, targetHostKey: strOrNull,
};

/** What recovery measures on the file it recovered, or decides itself: never taken from a temp. */
const MEASURED = ['file', 'sha256', 'bytes', 'version', 'complete', 'reason', 'recoveredAt', 'droppedLines', 'corrupt'];

const SHA256 = /^[0-9a-f]{64}$/;

/** The recovered file, as recovery measured it. */
export interface RecoveredFile {
  sha256: string;
  bytes: number;
  /** Whether recovery changed the bytes (dropped lines, added a newline or an event). */
  changed: boolean;
}

/** What the temporary sidecars of one recording told recovery. */
export interface ReadBack {
  /** Fields to put under recovery's own (outcome and identity; with `finished`, all but the measured ones). */
  fields: Sidecar;
  /** The finish wrote a complete sidecar of these very bytes: only its rename was interrupted. */
  finished: boolean;
  /** The temp the fields came from. */
  usedFile?: string;
  /** Temps not used, and why. */
  rejected: Array<{ file: string; problem: string }>;
}

/**
 * Reads the sidecar temps `paths` of recording `name`: a finished one (its sha256 and bytes
 * are the recovered file's, which recovery did not change) wins, else the first valid one
 * gives the outcome and identity. `sessionId` is the early sidecar's, when it has one. Temps
 * not used are logged, by name and problem only (never their content).
 */
export async function readBackSidecar(paths: readonly string[], name: string, sessionId: unknown, file: RecoveredFile, log: Logger): Promise<ReadBack> {
  const back = await readBackFrom(paths, name, sessionId, file);
  for (const r of back.rejected) log.warn({ recording: name, file: r.file, problem: r.problem, code: 'ERR_REC_LEFTOVER' }, 'a temporary sidecar a crash left is not a whole sidecar of this recording; not used');
  return back;
}

async function readBackFrom(paths: readonly string[], name: string, sessionId: unknown, file: RecoveredFile): Promise<ReadBack> {
  const rejected: ReadBack['rejected'] = [];
  let valid: { path: string; data: Sidecar } | undefined;
  for (const p of [...paths].sort()) {
    const r = await readTemp(p, name, sessionId);
    if (typeof r === 'string') {
      rejected.push({ file: path.basename(p), problem: r });
      continue;
    }
    const finished = !file.changed && r.complete === true && r.sha256 === file.sha256 && r.bytes === file.bytes;
    if (finished) return { fields: omit(r, MEASURED), finished, usedFile: path.basename(p), rejected };
    valid ??= { path: p, data: r };
  }
  if (!valid) return { fields: {}, finished: false, rejected };
  return { fields: pick(valid.data, { ...IDENTITY, ...OUTCOME }), finished: false, usedFile: path.basename(valid.path), rejected };
}

/** The temp's content when it is a whole, well-typed sidecar of recording `name`; else why not. */
async function readTemp(p: string, name: string, sessionId: unknown): Promise<Sidecar | string> {
  let v: unknown;
  try {
    v = JSON.parse(await readFile(p, 'utf8'));
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ? `unreadable (${(err as NodeJS.ErrnoException).code})` : 'not JSON (torn)';
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  const d = v as Sidecar;
  if (d.file !== `${name}.cast`) return 'names another recording';
  if (d.version !== 2 || typeof d.sha256 !== 'string' || !SHA256.test(d.sha256) || !int(d.bytes)) return 'lacks the recording facts a finished sidecar has';
  if (typeof sessionId === 'string' && d.sessionId !== sessionId) return 'names another session';
  for (const [k, ok] of Object.entries({ ...IDENTITY, ...OUTCOME })) {
    if (d[k] !== undefined && !ok(d[k])) return `field ${k} has the wrong type`;
  }
  return d;
}

function pick(d: Sidecar, keys: Record<string, Check>): Sidecar {
  return Object.fromEntries(Object.entries(d).filter(([k]) => k in keys));
}

function omit(d: Sidecar, keys: readonly string[]): Sidecar {
  return Object.fromEntries(Object.entries(d).filter(([k]) => !keys.includes(k)));
}
