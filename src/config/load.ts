import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { configSchema, parseHostPort, type RawConfig } from './schema.js';
import { SETTINGS, type Setting } from './settings.js';
import { TeamsshError } from '../errors.js';
import { validateUploadTarget } from './upload-target.js';
import { gitHubAuthChoiceProblems } from './github-app.js';
import { targetProblems } from '../jump/target-schema.js';

/** The validated, frozen configuration every other module receives. Nothing else reads `process.env`. */
export type Config = Readonly<RawConfig & { hostKey: string[]; signingKey: string; controlSocket: string; configFile: string | undefined }>;

/** Thrown when the configuration is missing or bad; `problems` names every bad setting at once. */
export class ConfigError extends TeamsshError {
  constructor(readonly problems: string[]) {
    super('ERR_CONFIG', `configuration has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Inputs of the loader, explicit so tests pass plain objects. */
export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** Config file path; defaults to `TEAMSSH_CONFIG` from `env`. */
  file?: string | undefined;
  /** Whether the server runs as root: then a session account must be named. */
  runningAsRoot?: boolean;
}

const label = (s: Setting) => `${s.env} (${s.path})`;

function setAt(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    cur = (next && typeof next === 'object' ? next : (cur[k] = {})) as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}

/** Turns one environment string into the value the schema expects, or a problem text. */
function fromEnv(s: Setting, raw: string): { value?: unknown; problem?: string } {
  const v = raw.trim();
  switch (s.kind) {
    case 'string':
      return { value: v };
    case 'int':
      return /^\d+$/.test(v) ? { value: Number(v) } : { problem: `must be a whole number of ${s.doc.includes('seconds') ? 'seconds' : 'units'}, got "${v}"` };
    case 'bool': {
      const b = ({ true: true, '1': true, yes: true, on: true, false: false, '0': false, no: false, off: false } as Record<string, boolean>)[v.toLowerCase()];
      return b === undefined ? { problem: `must be true or false, got "${v}"` } : { value: b };
    }
    case 'list':
      return { value: v.split(',').map((x) => x.trim()).filter(Boolean) };
    case 'policies': {
      const out = [];
      for (const item of v.split(',').map((x) => x.trim()).filter(Boolean)) {
        const m = /^([^=]+)=([^:]*)(?::(.+))?$/.exec(item);
        if (!m) return { problem: `entries must be team=account[:handler], got "${item}"` };
        out.push({ team: m[1]!.trim(), ...(m[2] ? { account: m[2].trim() } : {}), ...(m[3] ? { handler: m[3].trim() } : {}) });
      }
      return { value: out };
    }
  }
}

function readFile(file: string, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`TEAMSSH_CONFIG: cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    return {};
  }
  try {
    const doc = parseYaml(text) as unknown;
    if (doc == null) return {};
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('top level must be a mapping');
    return doc as Record<string, unknown>;
  } catch (err) {
    problems.push(`TEAMSSH_CONFIG: config file ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    return {};
  }
}

/** Loads the config file and the environment (the environment wins), validates everything, and returns a frozen tree or throws one ConfigError naming every problem. */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? {};
  const problems: string[] = [];
  const configFile = opts.file ?? (env.TEAMSSH_CONFIG || undefined);
  const raw = configFile ? readFile(configFile, problems) : {};

  for (const s of SETTINGS) {
    const name = [s.env, ...(s.legacyEnv ?? [])].find((n) => env[n] !== undefined && env[n] !== '');
    if (!name) continue;
    const { value, problem } = fromEnv(s, env[name]!);
    if (problem) problems.push(`${name} (${s.path}): ${problem}`);
    else setAt(raw, s.path, value);
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const dotted = issue.path.join('.');
      const s = SETTINGS.filter((x) => dotted === x.path || dotted.startsWith(`${x.path}.`)).sort((a, b) => b.path.length - a.path.length)[0];
      const where = s ? label(s) : dotted || 'config file';
      const message = issue.code === 'invalid_type' && issue.input === undefined ? 'required' : issue.message;
      problems.push(`${where}${s && dotted !== s.path ? ` [${dotted.slice(s.path.length + 1)}]` : ''}: ${message}`);
    }
  }
  // Cross-field rules run on what was written even when single settings are bad, so one run names every problem.
  problems.push(...crossChecks(raw, opts.runningAsRoot ?? false), ...targetProblems(env, raw));
  if (!parsed.success || problems.length > 0) throw new ConfigError(dedupe(problems));

  const c = parsed.data;
  // The ed25519 file keeps the name it always had, so a deployment keeps its key and fingerprint.
  const hostKey = c.hostKey ?? ['ed25519', 'ecdsa', 'rsa'].map((t) => path.join(c.stateDir, `ssh_host_${t}_key`));
  return deepFreeze({ ...c, hostKey, signingKey: signingKeyOf(c), controlSocket: controlSocketOf(c), configFile });
}

function controlSocketOf(c: { controlSocket?: string | undefined; stateDir: string }): string {
  return c.controlSocket ?? path.join(c.stateDir, 'control.sock');
}

function signingKeyOf(c: { signingKey?: string | undefined; stateDir: string }): string {
  return c.signingKey ?? path.join(c.stateDir, 'recording_signing_ed25519_key');
}

/**
 * One path setting and the state directory, read from the environment and the config file
 * only: the operator commands below run on the box and need no GitHub settings.
 */
function readLocalPath(opts: LoadOptions, envName: string, key: string): { value: string | undefined; stateDir: string } {
  const env = opts.env ?? {};
  const problems: string[] = [];
  const configFile = opts.file ?? (env.TEAMSSH_CONFIG || undefined);
  const raw = configFile ? readFile(configFile, problems) : {};
  if (problems.length > 0) throw new ConfigError(problems);
  return { value: env[envName] || at(raw, key, isString), stateDir: env.TEAMSSH_STATE_DIR || at(raw, 'stateDir', isString) || './state' };
}

/** Where the recording-signing key is, for `teamssh signing-key` and `teamssh verify`. */
export function loadSigningKeyPath(opts: LoadOptions = {}): string {
  const { value, stateDir } = readLocalPath(opts, 'TEAMSSH_SIGNING_KEY', 'signingKey');
  return signingKeyOf({ signingKey: value, stateDir });
}

/** Where the control socket is, for `teamssh sessions`, `kill` and `reload`. */
export function loadControlSocketPath(opts: LoadOptions = {}): string {
  const { value, stateDir } = readLocalPath(opts, 'TEAMSSH_CONTROL_SOCKET', 'controlSocket');
  return controlSocketOf({ controlSocket: value, stateDir });
}

/** Reads a value at a dotted path of the unvalidated input, if it has the expected type. */
function at<T>(raw: Record<string, unknown>, dotted: string, is: (v: unknown) => v is T): T | undefined {
  let cur: unknown = raw;
  for (const k of dotted.split('.')) cur = cur && typeof cur === 'object' && !Array.isArray(cur) ? (cur as Record<string, unknown>)[k] : undefined;
  return is(cur) ? cur : undefined;
}
const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isPolicies = (v: unknown): v is Array<{ team?: unknown; account?: unknown }> => Array.isArray(v) && v.every((x) => x && typeof x === 'object');

/**
 * Rules that span settings: they keep teamssh from running sessions as root or uploading
 * publicly by accident. They read the unvalidated input (a setting of the wrong type is
 * skipped here; the schema names it), so they run even when single settings are bad.
 */
function crossChecks(raw: Record<string, unknown>, runningAsRoot: boolean): string[] {
  const out: string[] = [];
  const configured = at(raw, 'github.teams', isStrings) ?? [];
  const policies = (at(raw, 'sessions.policies', isPolicies) ?? []).map((p) => ({
    team: typeof p.team === 'string' ? p.team : '',
    account: typeof p.account === 'string' && p.account ? p.account : undefined,
  }));
  const shellUser = at(raw, 'sessions.shellUser', isString);
  const teams = new Set(configured.map((t) => t.toLowerCase()));
  for (const p of policies) {
    if (p.team && configured.length > 0 && !teams.has(p.team.toLowerCase())) out.push(`TEAMSSH_TEAM_POLICIES (sessions.policies): team "${p.team}" is not in TEAMSSH_GITHUB_TEAMS`);
  }
  const uncovered = configured.filter((t) => !policies.some((p) => p.team.toLowerCase() === t.toLowerCase() && p.account));
  if (!shellUser && uncovered.length > 0) {
    out.push(
      `TEAMSSH_SHELL_USER (sessions.shellUser): required${runningAsRoot ? ' when running as root' : ''}: no local account is named for team${uncovered.length > 1 ? 's' : ''} ${uncovered.join(', ')}`,
    );
  }
  const accounts = [shellUser, ...policies.map((p) => p.account)].filter(Boolean);
  if (accounts.includes('root') && at(raw, 'sessions.allowRoot', (v): v is boolean => v === true) !== true) {
    out.push('TEAMSSH_ALLOW_ROOT_SESSIONS (sessions.allowRoot): sessions as root must be allowed explicitly');
  }
  if (at(raw, 'github.webhookSecret', isString) && !at(raw, 'http.listen', isString)) {
    out.push('TEAMSSH_GITHUB_WEBHOOK_SECRET (github.webhookSecret): set, but TEAMSSH_HTTP_LISTEN (http.listen) is not: no webhook could arrive');
  }
  if (listenersCollide(at(raw, 'http.listen', isString), at(raw, 'upload.httpListen', isString))) {
    out.push('TEAMSSH_UPLOAD_HTTP_LISTEN (upload.httpListen): must not be the address of TEAMSSH_HTTP_LISTEN (http.listen): `teamssh serve` and `teamssh upload` read one configuration, and the second to start could not bind it');
  }
  out.push(...gitHubAuthChoiceProblems(at(raw, 'github.token', isString), at(raw, 'github.app', (v): v is unknown => v !== undefined)));
  const serverUrl = at(raw, 'upload.serverUrl', isString);
  const target = serverUrl ? validateUploadTarget(serverUrl, at(raw, 'upload.allowPublicServer', (v): v is boolean => v === true) === true) : undefined;
  if (target) out.push(`ASCIINEMA_SERVER_URL (upload.serverUrl): ${target}`);
  return out;
}

/** Whether two `host:port` settings would bind one port: the same port (not 0, which the kernel picks) on the same host, or a wildcard that covers the other. */
function listenersCollide(a: string | undefined, b: string | undefined): boolean {
  const [x, y] = [a ? parseHostPort(a) : undefined, b ? parseHostPort(b) : undefined];
  if (!x || !y || x.port !== y.port || x.port === 0) return false;
  // `::` binds IPv4 too (Node listens dual-stack); `0.0.0.0` only IPv4.
  const covers = (w: string, h: string) => w === '::' || (w === '0.0.0.0' && !h.includes(':'));
  return x.host === y.host || covers(x.host, y.host) || covers(y.host, x.host);
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
