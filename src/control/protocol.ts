/**
 * The control socket's wire format: one JSON request per connection, one JSON answer, each a
 * single line. The socket is the server's local operator interface (`teamssh sessions`,
 * `teamssh kill`, `teamssh reload`); it is a Unix socket, mode 0600, owned by the user the server runs as.
 */

/** A live session as `teamssh sessions` shows it. */
export interface SessionSummary {
  id: string;
  login: string;
  team: string | null;
  fingerprint: string;
  remoteAddress: string;
  kind: 'shell' | 'exec';
  command: string | null;
  /** Jump sessions: the target the session runs on. */
  target?: string | null;
  state: string;
  startedAt: string;
  idleSeconds: number;
}

/** Who asked, as the command reports it (only the socket's owner can connect at all). */
export interface Operator {
  uid: number;
  /** Set when the command ran under sudo: the operator behind it. */
  sudoUid?: number | undefined;
  sudoUser?: string | undefined;
}

/** What a client may ask. */
export type ControlRequest =
  | { command: 'sessions' }
  | { command: 'kill'; sessionId?: string | undefined; login?: string | undefined; operator: Operator }
  | { command: 'reload' };

/** What the server answers. */
export type ControlResponse =
  | { ok: true; sessions: SessionSummary[] }
  | { ok: true; killed: string[] }
  /** A reload: settings applied and kept until restart (names only), or every problem of a refused config. */
  | { ok: true; reload: { applied: string[]; deferred: string[] } }
  | { ok: false; error: string; problems: string[] }
  | { ok: false; error: string };

/** Longest request line the server reads; anything longer is refused. */
export const MAX_REQUEST_BYTES = 4096;
