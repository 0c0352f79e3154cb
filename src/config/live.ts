import type { Config } from './load.js';
import { SETTINGS, type Setting } from './settings.js';

/**
 * Settings a reload applies to the running server. Everything else (listen address, host
 * keys, state and recordings directories, the HTTP listener, algorithms, the GitHub
 * connection and its caches, a setting added later and not listed here) is read once at
 * start: a reload reports it as changed and keeps the old value until a restart. Listing
 * what is live, not what is not, keeps a new setting safe by default.
 */
export const LIVE_SETTINGS: ReadonlySet<string> = new Set([
  'logLevel',
  'github.teams',
  'github.revalidateInterval',
  'auth.loginGraceTime',
  'auth.maxAuthTries',
  'auth.maxUnauthenticated',
  'auth.hooks',
  'auth.hookTimeout',
  'sessions.shellUser',
  'sessions.allowRoot',
  'sessions.path',
  'sessions.clientEnv',
  'sessions.idleTimeout',
  'sessions.maxDuration',
  'sessions.maxPerLogin',
  'sessions.killGrace',
  'sessions.shutdownGrace',
  'sessions.policies',
  'upload.enabled',
  'upload.serverUrl',
  'upload.installId',
  'upload.username',
  'upload.visibility',
  'upload.allowPublicServer',
  'upload.concurrency',
  'upload.maxBytes',
  'upload.keepUploaded',
  'upload.timeout',
]);

/** What one reload changed, by setting (environment variable names: never values). */
export interface ConfigChange {
  /** Changed settings now in effect. */
  applied: string[];
  /** Changed settings that keep their old value until a restart. */
  deferred: string[];
}

/** Called after a reload applied at least one setting; `config` is the new current tree. */
export type ConfigListener = (config: Config, change: ConfigChange) => void;

/**
 * The one owner of the running configuration. Modules that follow a reload read `current`
 * when they act (per connection, per session, per round) or subscribe with `onChange`;
 * modules that capture values at start are restart-only by construction.
 */
export class LiveConfig {
  #current: Config;
  readonly #listeners: ConfigListener[] = [];

  constructor(initial: Config) {
    this.#current = initial;
  }

  /** The configuration in effect now. */
  get current(): Config {
    return this.#current;
  }

  /** Registers `fn` for every later reload that applies something. */
  onChange(fn: ConfigListener): void {
    this.#listeners.push(fn);
  }

  /**
   * Takes a validated new configuration: live settings take their new value, restart-only
   * ones keep the old; listeners hear of it when something was applied. Returns the diff.
   */
  apply(next: Config): ConfigChange {
    const old = this.#current;
    const change: ConfigChange = { applied: [], deferred: [] };
    const merged = structuredClone(next) as Record<string, unknown>;
    for (const s of SETTINGS) {
      const key = keyOf(old, s);
      if (JSON.stringify(valueAt(old, key)) === JSON.stringify(valueAt(next, key))) continue;
      if (LIVE_SETTINGS.has(s.path)) change.applied.push(s.env);
      else {
        change.deferred.push(s.env);
        setAt(merged, key, structuredClone(valueAt(old, key)));
      }
    }
    if (change.applied.length === 0) return change;
    this.#current = deepFreeze(merged) as Config;
    for (const fn of this.#listeners) fn(this.#current, change);
    return change;
  }
}

/**
 * Where a setting lives in the parsed tree: the schema hands durations over in milliseconds
 * (`cacheTtl` → `cacheTtlMs`, `loginGraceTime` → `loginGraceMs`), so those keys are tried too.
 */
function keyOf(config: Config, s: Setting): string[] {
  const keys = s.path.split('.');
  const last = keys.pop()!;
  const parent = valueAt(config, keys);
  const candidates = [last, `${last}Ms`, `${last.replace(/Time$/, '')}Ms`];
  const found = parent && typeof parent === 'object' ? candidates.find((k) => k in parent) : undefined;
  return [...keys, found ?? last];
}

function valueAt(obj: unknown, keys: string[]): unknown {
  let cur = obj;
  for (const k of keys) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

function setAt(obj: Record<string, unknown>, keys: string[], value: unknown): void {
  let cur = obj;
  for (const k of keys.slice(0, -1)) cur = (cur[k] ??= {}) as Record<string, unknown>;
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
