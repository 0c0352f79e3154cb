/**
 * The catalogue of teamssh's error codes. Every code an error or a log line carries is
 * defined here, once, with what it means. Codes start with `ERR_` so they can never be
 * mistaken for a setting (settings are `TEAMSSH_*`, `GITHUB_*`, `ASCIINEMA_*`).
 */
export const ERROR_CODES = {
  ERR_CONFIG: 'the configuration is missing or bad; the message names every bad setting',
  ERR_HOST_KEY: 'a host key cannot be created or read, or two host keys are of one type',
  ERR_GITHUB_TIMEOUT: 'a GitHub request took longer than TEAMSSH_GITHUB_TIMEOUT',
  ERR_NO_ACCOUNT: 'the passwd database has no such local account',
  ERR_ACCOUNT_LOOKUP_FAILED: 'the NSS tools (getent, id) failed for another reason than a missing account',
  ERR_ROOT_REFUSED: 'a session would run as uid 0 and TEAMSSH_ALLOW_ROOT_SESSIONS is off',
  ERR_LAUNCHER_MISSING: 'the compiled launcher dist/teamssh-launch is missing (run npm run build)',
  ERR_BAD_PROGRAM: 'a session program is not given as an absolute path',
  ERR_CGROUP_FAILED: 'a session cgroup could not be created or used (the session is refused: it could not be contained)',
  ERR_CONTAINMENT_UNAVAILABLE: 'TEAMSSH_SESSION_CONTAINMENT=cgroup, but no writable cgroup v2 with cgroup.kill (Linux >= 5.14) exists',
  ERR_TERMINATE_TIMEOUT: "a session's processes survived SIGKILL (stuck in the kernel, e.g. on NFS)",
  ERR_REC_DIR: 'the recordings directory is missing or not writable',
  ERR_REC_OPEN: 'a recording cannot be created',
  ERR_REC_WRITE: 'a recording cannot be written',
  ERR_REC_BACKLOG: 'a recording fell too far behind the session (the disk is stuck)',
  ERR_REC_FINISH: 'a recording cannot be finalised (sidecar, rename)',
  ERR_REC_FINISHED: 'a recording was finished twice (a bug)',
  ERR_REC_RECOVER: 'a partial recording left by a crash could not be recovered; it stays in place',
  ERR_REC_RECOVERED: 'a partial recording left by a crash was finalised at start (a warning, not a failure)',
  ERR_REC_CONFLICT: 'a partial recording and a final recording of the same name both exist',
  ERR_REC_CORRUPT: 'a partial recording has no valid header; kept as NAME.cast.corrupt',
  ERR_REC_LEFTOVER: 'temporary files of sidecar or signature writes left by a crash were removed at start, or a torn one was not read back (a warning, not a failure)',
  ERR_UPLOAD_INSTALL_ID: 'the install id is not a lowercase UUID, or its file cannot be read',
  ERR_UPLOAD_STOPPED: 'the uploader was stopped while an upload was in flight',
  ERR_UPLOAD_SPLIT: 'a recording cannot be split into parts the server accepts',
  ERR_UPLOAD_LOCAL: 'a local error (disk, permissions) kept a recording from being uploaded; it is retried',
  ERR_UPLOAD_NO_SIDECAR: 'a recording has no sidecar; it is uploaded with what its header says',
  ERR_UPLOAD_BAD_SIDECAR: 'a sidecar is not valid JSON; kept as .json.corrupt',
  ERR_UPLOAD_NO_URL: 'the server accepted an upload but named no URL',
  ERR_UPLOAD_LEFTOVER: 'temporary files or split parts of an uploader that is gone (killed mid-write) were removed (a warning, not a failure)',
  ERR_UPLOAD_REJECTED: 'the server refused a recording for good; it is kept in failed/ with the reason',
  ERR_CONTROL_SOCKET: 'the control socket cannot be created, or another server already listens on it',
  ERR_NO_SERVER: 'teamssh sessions/kill found no running server on the control socket',
  ERR_RELOAD_REFUSED: 'teamssh reload: the new configuration is invalid; the server kept the old one (the message names every problem)',
  ERR_LOG_FILE: 'TEAMSSH_LOG_FILE could not be reopened on reload; lines still go to stdout',
  ERR_UPLOAD_RESTART: 'a reload changed upload settings and the uploader could not be started again with them',
  ERR_UPLOAD_UNAUTHORIZED: 'the server refused the install id (401); all uploads pause until it is accepted',
  ERR_HTTP_LISTEN: 'the HTTP listener (TEAMSSH_HTTP_LISTEN; for `teamssh upload`, TEAMSSH_UPLOAD_HTTP_LISTEN) cannot bind its address',
  ERR_HTTP_NOT_FOUND: 'an HTTP request named no route (or a disabled one, such as webhooks without a secret)',
  ERR_HTTP_METHOD: 'an HTTP request used a method its route does not take',
  ERR_HTTP_BODY_TOO_LARGE: 'an HTTP request body was over the 1 MB cap',
  ERR_HTTP_BAD_REQUEST: 'an HTTP request was malformed (missing header, body not JSON)',
  ERR_HTTP_INTERNAL: 'an HTTP route failed unexpectedly; the cause is in the log only',
  ERR_WEBHOOK_SIGNATURE: 'a webhook delivery had a missing or wrong X-Hub-Signature-256; it changed nothing',
  ERR_SIGNING_KEY: 'the recording-signing key (TEAMSSH_SIGNING_KEY) cannot be created or read, or is not an unencrypted ed25519 key',
  ERR_REC_SIGN: "a recording's signature chain or signature cannot be written (handled like a recording write failure)",
  ERR_UPLOAD_SIGNATURE: "a recording did not match its own signature when the uploader checked it; uploaded unsigned with a note",
  ERR_METRICS_UNAUTHORIZED: 'a GET /metrics came without the bearer token TEAMSSH_METRICS_TOKEN asks for, or with a wrong one',
  ERR_REVALIDATION: 'a live session could not be re-checked against GitHub (the check is retried next interval)',
  ERR_GITHUB_APP_INSTALLATION: "GitHub answered the GitHub App's installation lookup (GET /orgs/{org}/installation) without an installation id",
  ERR_GITHUB_APP_TOKEN_REFUSED: 'GitHub refused an installation token before teamssh let it go (401: revoked); a new one is minted and the request repeated once',
  ERR_JUMP_KEY: 'the jump key (jump.key) cannot be created or read',
  ERR_JUMP_UNREACHABLE: 'a target refused or dropped the onward TCP connection, or its name did not resolve',
  ERR_JUMP_TIMEOUT: 'a target did not finish connecting and authenticating within jump.connectTimeout',
  ERR_JUMP_HOST_KEY: 'a target presented a host key that is not one of its pinned hostKeys; nothing was sent to it',
  ERR_JUMP_AUTH: 'a target refused the jump key (its authorized_keys lacks the line `teamssh jump-key` prints)',
  ERR_JUMP_CHANNEL: 'a target accepted the jump key but refused the session, pty or command',
} as const;

/** A stable error code from the catalogue above. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Errors with a stable code and a message that is safe to show to a user or an operator.
 * The underlying cause travels in `cause` and goes to the log only.
 */
export class TeamsshError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TeamsshError';
  }
}

/** True when `err` is a TeamsshError carrying `code`. */
export function hasCode(err: unknown, code: ErrorCode): boolean {
  return err instanceof TeamsshError && err.code === code;
}
