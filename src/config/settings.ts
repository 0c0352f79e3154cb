/**
 * The table of every setting: its place in the config file and the environment variable
 * that overrides it. This table is the single source for the loader, `--help` and the README,
 * so a setting cannot exist in one and be missing from another.
 */

/** How a raw string from the environment is turned into the value the schema checks. */
export type SettingKind = 'string' | 'int' | 'bool' | 'list' | 'policies';

/** One operator-facing setting. */
export interface Setting {
  /** Dotted path in the config file, e.g. `github.org`. */
  path: string;
  /** Environment variable that overrides the file (the environment wins). */
  env: string;
  kind: SettingKind;
  /** One line for the README and `--help`. */
  doc: string;
  /** Other accepted (legacy) variable names, read when `env` is unset. */
  legacyEnv?: string[];
}

/** Every setting teamssh reads. Order is the order of the configuration reference. */
export const SETTINGS: readonly Setting[] = [
  { path: 'listen', env: 'TEAMSSH_LISTEN', kind: 'string', doc: '`host:port` to listen on (default `0.0.0.0:2222`)' },
  { path: 'hostKey', env: 'TEAMSSH_HOST_KEY', kind: 'list', doc: 'comma-separated host key files; a missing one is generated (mode 0600): RSA 3072 or ECDSA P-256 if its name says `rsa` or `ecdsa`, else ed25519 (default `<stateDir>/ssh_host_ed25519_key,<stateDir>/ssh_host_ecdsa_key,<stateDir>/ssh_host_rsa_key`)' },
  { path: 'signingKey', env: 'TEAMSSH_SIGNING_KEY', kind: 'string', doc: 'ed25519 key that signs recordings (SSHSIG, see "Verifying a recording"); generated if missing (mode 0600); not a host key (default `<stateDir>/recording_signing_ed25519_key`)' },
  { path: 'stateDir', env: 'TEAMSSH_STATE_DIR', kind: 'string', doc: 'state directory: host key, install id (default `./state`)' },
  { path: 'controlSocket', env: 'TEAMSSH_CONTROL_SOCKET', kind: 'string', doc: 'Unix socket of `teamssh sessions` and `teamssh kill`, mode 0600 (default `<stateDir>/control.sock`)' },
  { path: 'logLevel', env: 'TEAMSSH_LOG_LEVEL', kind: 'string', doc: 'pino level: fatal, error, warn, info, debug, trace, silent (default `info`)' },
  { path: 'logFile', env: 'TEAMSSH_LOG_FILE', kind: 'string', doc: 'also append the JSON log lines to this file (default: stdout only)' },
  { path: 'priorityBoost', env: 'TEAMSSH_PRIORITY_BOOST', kind: 'int', doc: 'nice levels `serve` raises itself above its sessions at start, 0–19, so the one process relaying every session is not starved by what sessions run; sessions start at the nice value teamssh was started with (default 10; 0 = off; see docs/priority.md)' },
  { path: 'http.listen', env: 'TEAMSSH_HTTP_LISTEN', kind: 'string', doc: '`host:port` of the HTTP listener for GitHub webhooks, `/metrics`, `/healthz` and `/readyz` (default none: no HTTP listener)' },
  { path: 'http.metricsToken', env: 'TEAMSSH_METRICS_TOKEN', kind: 'string', doc: 'bearer token `GET /metrics` requires, at least 16 characters (default none: `/metrics` is open to whoever reaches the HTTP listener)' },

  { path: 'algorithms.kex', env: 'TEAMSSH_KEX_ALGORITHMS', kind: 'list', doc: 'key exchange algorithms offered, in order (default `mlkem768x25519-sha256,curve25519-sha256,curve25519-sha256@libssh.org`; see docs/algorithms.md)' },
  { path: 'algorithms.ciphers', env: 'TEAMSSH_CIPHERS', kind: 'list', doc: 'ciphers offered (default `chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr`)' },
  { path: 'algorithms.macs', env: 'TEAMSSH_MACS', kind: 'list', doc: 'MACs offered (default `hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com`)' },
  { path: 'algorithms.hostKeyAlgorithms', env: 'TEAMSSH_HOST_KEY_ALGORITHMS', kind: 'list', doc: 'host key algorithms offered; add `ecdsa-sha2-nistp256` to offer the ECDSA key (default `ssh-ed25519,rsa-sha2-512,rsa-sha2-256`)' },

  { path: 'github.org', env: 'TEAMSSH_GITHUB_ORG', kind: 'string', doc: 'GitHub organization login (required)' },
  { path: 'github.teams', env: 'TEAMSSH_GITHUB_TEAMS', kind: 'list', doc: 'comma-separated team slugs whose active members may log in (required)' },
  { path: 'github.token', env: 'GITHUB_TOKEN', kind: 'string', doc: 'token for the GitHub API: classic with `read:org`, or fine-grained with "Members: read" (required unless a GitHub App is configured; never both)' },
  { path: 'github.app.id', env: 'TEAMSSH_GITHUB_APP_ID', kind: 'int', doc: 'GitHub App id, to authenticate as an App instead of with `GITHUB_TOKEN` (default none)' },
  { path: 'github.app.privateKeyFile', env: 'TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE', kind: 'string', doc: "the App's private key file (PEM), read once at start (required with `TEAMSSH_GITHUB_APP_ID`)" },
  { path: 'github.app.installationId', env: 'TEAMSSH_GITHUB_APP_INSTALLATION_ID', kind: 'int', doc: "the App's installation id in the organization (default: asked with `GET /orgs/{org}/installation`)" },
  { path: 'github.apiUrl', env: 'TEAMSSH_GITHUB_API_URL', kind: 'string', doc: 'GitHub API base URL (default `https://api.github.com`; GHES: `https://HOST/api/v3`)' },
  { path: 'github.cacheTtl', env: 'TEAMSSH_CACHE_TTL', kind: 'int', doc: 'seconds a verified membership/key set is trusted before it is re-checked (default 300)' },
  { path: 'github.cacheMaxStale', env: 'TEAMSSH_CACHE_MAX_STALE', kind: 'int', doc: 'seconds a verified answer may still be used while GitHub is unavailable (default 3600)' },
  { path: 'github.negativeCacheTtl', env: 'TEAMSSH_NEGATIVE_CACHE_TTL', kind: 'int', doc: 'seconds a "not a member" answer is cached (default 30)' },
  { path: 'github.requestTimeout', env: 'TEAMSSH_GITHUB_TIMEOUT', kind: 'int', doc: 'seconds before one GitHub request counts as unavailable (default 5)' },
  { path: 'github.webhookSecret', env: 'TEAMSSH_GITHUB_WEBHOOK_SECRET', kind: 'string', doc: 'secret of the org webhook; enables `POST /webhooks/github` on the HTTP listener (default none: no webhook endpoint)' },
  { path: 'github.revalidateInterval', env: 'TEAMSSH_REVALIDATE_INTERVAL', kind: 'int', doc: 'seconds between re-verifications of every live session (membership and key) with GitHub; 0 = off (default 60)' },

  { path: 'auth.loginGraceTime', env: 'TEAMSSH_LOGIN_GRACE_TIME', kind: 'int', doc: 'seconds a connection may take to authenticate (default 30)' },
  { path: 'auth.maxAuthTries', env: 'TEAMSSH_MAX_AUTH_TRIES', kind: 'int', doc: 'authentication attempts allowed per connection (default 6)' },
  { path: 'auth.maxUnauthenticated', env: 'TEAMSSH_MAX_UNAUTHENTICATED', kind: 'int', doc: 'cap on connections that have not authenticated yet; the oldest is dropped past it (default 100)' },
  { path: 'auth.hooks', env: 'TEAMSSH_AUTH_HOOKS', kind: 'list', doc: 'comma-separated auth hook programs run after GitHub accepts (default none; contract in handlers/README.md)' },
  { path: 'auth.hookTimeout', env: 'TEAMSSH_AUTH_HOOK_TIMEOUT', kind: 'int', doc: 'seconds an auth hook may run before it counts as unavailable (default 5)' },

  { path: 'sessions.shellUser', env: 'TEAMSSH_SHELL_USER', kind: 'string', doc: 'local account sessions run as, unless a team policy names another (required unless every team has a policy)' },
  { path: 'sessions.allowRoot', env: 'TEAMSSH_ALLOW_ROOT_SESSIONS', kind: 'bool', doc: 'allow a session account with uid 0; off by default (default false)' },
  { path: 'sessions.path', env: 'TEAMSSH_SESSION_PATH', kind: 'string', doc: 'PATH given to sessions (default `/usr/local/bin:/usr/bin:/bin`)' },
  { path: 'sessions.clientEnv', env: 'TEAMSSH_CLIENT_ENV', kind: 'list', doc: 'client `env` names accepted, `*` as a suffix wildcard (default `LANG,LC_*`)' },
  { path: 'sessions.idleTimeout', env: 'TEAMSSH_IDLE_TIMEOUT', kind: 'int', doc: 'seconds without input or output before a session is ended; 0 = never (default 3600)' },
  { path: 'sessions.maxDuration', env: 'TEAMSSH_MAX_SESSION_DURATION', kind: 'int', doc: 'seconds a session may last; 0 = unlimited (default 43200)' },
  { path: 'sessions.maxPerLogin', env: 'TEAMSSH_MAX_SESSIONS_PER_LOGIN', kind: 'int', doc: 'concurrent sessions per GitHub login (default 10)' },
  { path: 'sessions.killGrace', env: 'TEAMSSH_KILL_GRACE', kind: 'int', doc: 'seconds between SIGHUP and SIGKILL when a session ends (default 2)' },
  { path: 'sessions.containment', env: 'TEAMSSH_SESSION_CONTAINMENT', kind: 'string', doc: '`auto` (a cgroup v2 per session when one is writable, else the weaker process scan), `cgroup` (refuse to start without one) or `process-scan` (default `auto`)' },
  { path: 'sessions.shutdownGrace', env: 'TEAMSSH_SHUTDOWN_GRACE', kind: 'int', doc: 'seconds live sessions get after SIGTERM before they are ended (default 30)' },
  { path: 'sessions.policies', env: 'TEAMSSH_TEAM_POLICIES', kind: 'policies', doc: 'team → account/handler, first match wins: `team=account[:handler],...` (default: every team gets the shell user and its login shell)' },

  { path: 'recordings.dir', env: 'TEAMSSH_RECORDINGS_DIR', kind: 'string', doc: 'recordings directory, mode 0700 (default `./recordings`)' },
  { path: 'recordings.recordInput', env: 'TEAMSSH_RECORD_INPUT', kind: 'bool', doc: 'also record typed input ("i" events); typed input holds passwords (default false)' },
  { path: 'recordings.redact', env: 'TEAMSSH_REDACT', kind: 'bool', doc: 'replace secrets (GitHub tokens, AWS access key ids, private key blocks, TEAMSSH_REDACT_PATTERNS) by asterisks in recordings; the client\'s own output is unchanged (default true)' },
  { path: 'recordings.redactPatterns', env: 'TEAMSSH_REDACT_PATTERNS', kind: 'string', doc: 'file of extra redaction patterns, one `NAME = REGEX` a line (default none; see "Redaction")' },
  { path: 'recordings.failOpen', env: 'TEAMSSH_RECORDING_FAIL_OPEN', kind: 'bool', doc: 'let sessions run when the recording cannot be written, logged loudly (default false: refuse)' },

  { path: 'upload.enabled', env: 'TEAMSSH_UPLOAD', kind: 'bool', doc: '`serve` runs the uploader in-process (default true; false when `teamssh upload` runs apart)' },
  { path: 'upload.serverUrl', env: 'ASCIINEMA_SERVER_URL', kind: 'string', legacyEnv: ['ASCIINEMA_API_URL'], doc: 'asciinema server URL (default none: recordings stay in the directory)' },
  { path: 'upload.installId', env: 'ASCIINEMA_INSTALL_ID', kind: 'string', doc: 'install id used to upload, lowercase UUID (default: generated once into the state dir)' },
  { path: 'upload.username', env: 'ASCIINEMA_USERNAME', kind: 'string', doc: 'HTTP Basic username sent with the install id (default empty)' },
  { path: 'upload.visibility', env: 'TEAMSSH_UPLOAD_VISIBILITY', kind: 'string', doc: '`private`, `unlisted` or `public` (default `private`)' },
  { path: 'upload.allowPublicServer', env: 'TEAMSSH_ALLOW_PUBLIC_SERVER', kind: 'bool', doc: 'allow uploading to the public asciinema.org (default false)' },
  { path: 'upload.concurrency', env: 'TEAMSSH_UPLOAD_CONCURRENCY', kind: 'int', doc: 'uploads in flight at once (default 4)' },
  { path: 'upload.maxBytes', env: 'TEAMSSH_UPLOAD_MAX_BYTES', kind: 'int', doc: 'server size limit; larger recordings are split into parts (default 8000000)' },
  { path: 'upload.keepUploaded', env: 'TEAMSSH_KEEP_UPLOADED', kind: 'bool', doc: 'keep uploaded recordings in `uploaded/` (default true)' },
  { path: 'upload.timeout', env: 'TEAMSSH_UPLOAD_TIMEOUT', kind: 'int', doc: 'seconds one upload request may take (default 120)' },
  { path: 'upload.httpListen', env: 'TEAMSSH_UPLOAD_HTTP_LISTEN', kind: 'string', doc: '`host:port` where `teamssh upload` serves its own `/metrics`, `/healthz` and `/readyz` (same token as the server\'s); not the server\'s `TEAMSSH_HTTP_LISTEN`, since both processes read one configuration (default none: no listener)' },

  { path: 'jump.key', env: 'TEAMSSH_JUMP_KEY', kind: 'string', doc: 'private key teamssh connects to targets with; generated (ed25519, mode 0600) if missing (default `<stateDir>/jump_ed25519_key`; targets themselves are set in the config file only)' },
  { path: 'jump.connectTimeout', env: 'TEAMSSH_JUMP_CONNECT_TIMEOUT', kind: 'int', doc: 'seconds an onward connection to a target may take to connect and authenticate (default 10)' },
];
