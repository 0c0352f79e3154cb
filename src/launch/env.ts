import type { Account } from './account.js';

/** Both ends of the SSH connection, as the session layer learned them from the socket. */
export interface ConnectionEnds {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

/** Everything buildSessionEnv may take a variable from; nothing else reaches the child. */
export interface SessionEnvInput {
  account: Pick<Account, 'name' | 'home' | 'shell'>;
  /** The configured PATH (sessions.path); the client can never set it. */
  path: string;
  /** TERM from the client's pty request; absent without a pty. */
  term?: string | undefined;
  connection: ConnectionEnds;
  /** The command of an exec request (`ssh host CMD`), exported as SSH_ORIGINAL_COMMAND. */
  command?: string | undefined;
  githubLogin: string;
  sessionId: string;
  /** Variables the auth hooks set (operator-controlled; filtered by filterHookEnv, again here). */
  hookEnv?: Readonly<Record<string, string>> | undefined;
  /** The client's `env` requests in arrival order (ssh2 gives `{key, val}`). */
  clientEnv?: Array<{ key: string; val: string }> | undefined;
  /** Client names to accept: exact names or a prefix ending in `*` (sessions.clientEnv). */
  clientEnvAllow?: string[] | undefined;
}

/** The child's complete environment plus what was turned away, for the audit log. */
export interface SessionEnv {
  env: Record<string, string>;
  /** Client variable names that were refused (never values: they may be secrets). */
  refused: string[];
  /** Hook variable names that were refused (malformed or never-listed). */
  refusedHook: string[];
}

/** Client names accepted when the operator configures nothing. */
export const DEFAULT_CLIENT_ENV_ALLOW: readonly string[] = ['LANG', 'LC_*'];

/**
 * Names the client (and the hooks) can never set, even if an operator allowlists them.
 * The threat is not the interactive user poisoning their own shell: it is a client
 * subverting a forced command or handler program, or a program those start (git, less,
 * an interpreter), into running code it did not choose. A trailing `*` is a prefix.
 */
export const NEVER_FROM_CLIENT: readonly string[] = [
  // Fixed by teamssh from the account, the config or the pty request.
  'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'MAIL', 'TERM', 'PWD', 'OLDPWD', 'TEAMSSH_*', 'SSH_*',
  // The dynamic loader and glibc load code or parse files named here (GLIBC_TUNABLES: CVE-2023-4911).
  'LD_*', 'GCONV_PATH', 'GETCONF_DIR', 'LOCPATH', 'NLSPATH', 'MALLOC_*', 'GLIBC_TUNABLES',
  // The resolver reads attacker-chosen files or changes which hosts names resolve to.
  'HOSTALIASES', 'LOCALDOMAIN', 'RES_OPTIONS',
  // Shell startup and parsing: each of these runs code or changes how commands are split.
  'BASH_ENV', 'ENV', 'IFS', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'PROMPT_COMMAND', 'CDPATH', 'GLOBIGNORE',
  'BASH_FUNC_*', 'ZDOTDIR', 'HISTFILE', 'INPUTRC',
  // Interpreters and runtimes that load code from these.
  'NODE_*', 'PYTHON*', 'PERL5*', 'PERLLIB', 'PERL_*', 'RUBY*', 'GEM_*', 'BUNDLE_*', 'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH', 'LUA_*', 'PHPRC', 'PHP_INI_SCAN_DIR', 'TCLLIBPATH',
  // Tools a handler is likely to call that run commands named in the environment.
  'GIT_*', 'PAGER', 'LESSOPEN', 'LESSCLOSE', 'LESSKEY*', 'EDITOR', 'VISUAL', 'OPENSSL_*', 'SUDO_*',
];

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Bounds so one client cannot grow the child's environment without limit.
const MAX_CLIENT_VARS = 64;
const MAX_VALUE_BYTES = 4096;

function matches(name: string, pattern: string, caseInsensitive: boolean): boolean {
  const n = caseInsensitive ? name.toUpperCase() : name;
  const p = caseInsensitive ? pattern.toUpperCase() : pattern;
  return p.endsWith('*') ? n.startsWith(p.slice(0, -1)) : n === p;
}

/** True when `name` is on the never-list; compared case-insensitively to err on the safe side. */
export function isNeverAllowed(name: string): boolean {
  return NEVER_FROM_CLIENT.some((p) => matches(name, p, true));
}

// OpenSSH prints IPv4 peers as plain dotted quads, not as IPv4-mapped IPv6.
function addr(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

function validValue(v: string): boolean {
  return !v.includes('\0') && Buffer.byteLength(v) <= MAX_VALUE_BYTES;
}

/**
 * The rule for variables from auth hooks: a valid name, not on the never-list, no NUL in the
 * value. Hooks are the operator's programs, but what they print may come from elsewhere.
 */
export function filterHookEnv(vars: Readonly<Record<string, string>>): { env: Record<string, string>; refused: string[] } {
  const env: Record<string, string> = {};
  const refused: string[] = [];
  for (const [key, val] of Object.entries(vars)) {
    if (!NAME.test(key) || isNeverAllowed(key) || val.includes('\0')) refused.push(key);
    else env[key] = val;
  }
  return { env, refused };
}

/**
 * Builds a session's environment from an allowlist only: the account, the config, the
 * connection, the hooks' `KEY=value` lines and the client's allowlisted `env` requests.
 * Nothing of the server's own environment is read. SSH_TTY is added by the launcher.
 */
export function buildSessionEnv(input: SessionEnvInput): SessionEnv {
  const env: Record<string, string> = {};
  const refused: string[] = [];
  const refusedHook: string[] = [];
  const allow = input.clientEnvAllow ?? DEFAULT_CLIENT_ENV_ALLOW;

  // Lowest precedence first: the client, then the operator's hooks, then teamssh's own values.
  let accepted = 0;
  for (const { key, val } of input.clientEnv ?? []) {
    const ok =
      NAME.test(key) &&
      !isNeverAllowed(key) &&
      allow.some((p) => matches(key, p, false)) &&
      validValue(val) &&
      (key in env || accepted < MAX_CLIENT_VARS);
    if (!ok) {
      refused.push(key);
      continue;
    }
    if (!(key in env)) accepted++;
    env[key] = val;
  }

  const hook = filterHookEnv(input.hookEnv ?? {});
  refusedHook.push(...hook.refused);
  Object.assign(env, hook.env);

  const c = input.connection;
  env.USER = input.account.name;
  env.LOGNAME = input.account.name;
  env.HOME = input.account.home;
  env.SHELL = input.account.shell;
  env.PATH = input.path;
  if (input.term !== undefined && input.term !== '') env.TERM = input.term;
  env.SSH_CONNECTION = `${addr(c.remoteAddress)} ${c.remotePort} ${addr(c.localAddress)} ${c.localPort}`;
  env.SSH_CLIENT = `${addr(c.remoteAddress)} ${c.remotePort} ${c.localPort}`;
  if (input.command !== undefined) env.SSH_ORIGINAL_COMMAND = input.command;
  env.TEAMSSH_GITHUB_LOGIN = input.githubLogin;
  env.TEAMSSH_SESSION_ID = input.sessionId;

  return { env, refused, refusedHook };
}
