import { z } from 'zod';
import { loadRedactPatterns } from '../recording/redact-patterns.js';
import { gitHubAppSchema } from './github-app.js';
import { jumpSchema, targetsSchema } from '../jump/target-schema.js';
import { DEFAULT_CIPHERS, DEFAULT_HOST_KEY_ALGORITHMS, DEFAULT_KEX, DEFAULT_MACS, unsupportedAlgorithms, type AlgorithmKind } from '../server/algorithms.js';

/**
 * The typed configuration tree with its defaults. Durations are seconds in the file and the
 * environment (what operators write); each section hands the code its durations in
 * milliseconds (`…Ms`), the unit timers use, so no module multiplies by 1000 itself.
 */

const seconds = (def: number) => z.number().int().min(0).default(def);
const positive = (def: number) => z.number().int().min(1).default(def);

/** A `host:port` string (IPv6 hosts in brackets, no host meaning `0.0.0.0`) as `{host, port}`, or undefined when it is not one. */
export function parseHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  return m && port <= 65535 ? { host: m[1] ?? (m[2] || '0.0.0.0'), port } : undefined;
}

/** A `host:port` setting turned into `{host, port}`. */
const hostPort = z.string().transform((s, ctx) => {
  const parsed = parseHostPort(s);
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: `must be host:port, got "${s}"` });
    return z.NEVER;
  }
  return parsed;
});

const listen = z.string().default('0.0.0.0:2222').pipe(hostPort);

const slug = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a GitHub team slug');
const accountName = z.string().regex(/^[a-z_][a-z0-9_.-]*\$?$/i, 'must be a local account name');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** A non-empty list of algorithm names that ssh2 can speak, in order of preference. */
const algorithmList = (kind: AlgorithmKind, def: readonly string[]) =>
  z
    .array(z.string())
    .min(1, 'must name at least one algorithm')
    .superRefine((list, ctx) => {
      const bad = unsupportedAlgorithms(kind, list);
      if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `not supported: ${bad.join(', ')}` });
    })
    .default([...def]);

/** A team's session policy: which local account and which handler its members get. */
export const policySchema = z.strictObject({
  team: slug,
  account: accountName.optional(),
  handler: z.string().min(1).optional(),
});

/** The whole configuration tree. */
export const configSchema = z.strictObject({
  listen,
  // A single path (the old form of this setting) is still accepted in the config file.
  hostKey: z
    .union([z.string().min(1).transform((f) => [f]), z.array(z.string().min(1)).min(1, 'must name at least one file')])
    .optional(),
  algorithms: z
    .object({
      kex: algorithmList('kex', DEFAULT_KEX),
      ciphers: algorithmList('cipher', DEFAULT_CIPHERS),
      macs: algorithmList('mac', DEFAULT_MACS),
      hostKeyAlgorithms: algorithmList('serverHostKey', DEFAULT_HOST_KEY_ALGORITHMS),
    })
    .prefault({}),
  signingKey: z.string().min(1).optional(),
  stateDir: z.string().min(1).default('./state'),
  controlSocket: z.string().min(1).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  logFile: z.string().min(1).optional(),
  // Up to 19: a boost past -20 is clamped, and 0..19 is the whole range an operator starts teamssh in.
  priorityBoost: z.number().int().min(0).max(19, 'must be 0 to 19 nice levels').default(10),
  http: z
    .strictObject({
      // No default: an HTTP listener is opened only when the operator asks for one.
      listen: hostPort.optional(),
      metricsToken: z.string().min(16, 'must be at least 16 characters').optional(),
    })
    .prefault({}),
  github: z
  .strictObject({
    org: z.string({ error: 'required' }).regex(/^[A-Za-z0-9-]+$/, 'must be an organization login'),
    teams: z.array(slug).min(1, 'at least one team is required: teamssh never allows everyone'),
    // Exactly one of token and app: the loader's cross-field check names both when it is not so.
    token: z.string().min(1, 'must not be empty').optional(),
    app: gitHubAppSchema.optional(),
    apiUrl: httpUrl.default('https://api.github.com'),
    cacheTtl: positive(300),
    cacheMaxStale: seconds(3600),
    negativeCacheTtl: positive(30),
    requestTimeout: positive(5),
    webhookSecret: z.string().min(1, 'must not be empty').optional(),
    revalidateInterval: seconds(60),
  })
  .transform(({ cacheTtl, cacheMaxStale, negativeCacheTtl, requestTimeout, revalidateInterval, ...g }) => ({
    ...g,
    revalidateIntervalMs: revalidateInterval * 1000,
    cacheTtlMs: cacheTtl * 1000,
    cacheMaxStaleMs: cacheMaxStale * 1000,
    negativeCacheTtlMs: negativeCacheTtl * 1000,
    requestTimeoutMs: requestTimeout * 1000,
  }))
  // An absent `github:` section should report each missing field by name, not "github: required".
  .prefault({} as never),
  auth: z
    .strictObject({
      loginGraceTime: positive(30),
      maxAuthTries: positive(6),
      maxUnauthenticated: positive(100),
      hooks: z.array(z.string().min(1)).default([]),
      hookTimeout: positive(5),
    })
    .transform(({ loginGraceTime, hookTimeout, ...a }) => ({ ...a, loginGraceMs: loginGraceTime * 1000, hookTimeoutMs: hookTimeout * 1000 }))
    .prefault({}),
  sessions: z
    .strictObject({
      shellUser: accountName.optional(),
      allowRoot: z.boolean().default(false),
      path: z.string().min(1).default('/usr/local/bin:/usr/bin:/bin'),
      clientEnv: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/, 'must be a variable name, optionally ending in *')).default(['LANG', 'LC_*']),
      idleTimeout: seconds(3600),
      maxDuration: seconds(43200),
      maxPerLogin: positive(10),
      killGrace: seconds(2),
      containment: z.enum(['auto', 'cgroup', 'process-scan']).default('auto'),
      shutdownGrace: seconds(30),
      policies: z.array(policySchema).default([]),
    })
    .transform(({ idleTimeout, maxDuration, killGrace, shutdownGrace, ...x }) => ({
      ...x,
      idleTimeoutMs: idleTimeout * 1000,
      maxDurationMs: maxDuration * 1000,
      killGraceMs: killGrace * 1000,
      shutdownGraceMs: shutdownGrace * 1000,
    }))
    .prefault({}),
  recordings: z
    .strictObject({
      dir: z.string().min(1).default('./recordings'),
      recordInput: z.boolean().default(false),
      failOpen: z.boolean().default(false),
      redact: z.boolean().default(true),
      redactPatterns: z.string().min(1).optional(),
    })
    .transform(({ redactPatterns, ...r }, ctx) => {
      // Read and compiled once here, so a bad pattern is a config error naming it, not a failed session.
      const loaded = redactPatterns ? loadRedactPatterns(redactPatterns) : { patterns: [], problems: [] };
      for (const message of loaded.problems) ctx.addIssue({ code: 'custom', path: ['redactPatterns'], message });
      return { ...r, redactPatterns: loaded.patterns };
    })
    .prefault({}),
  upload: z
    .strictObject({
      enabled: z.boolean().default(true),
      serverUrl: httpUrl.optional(),
      installId: z
        .string()
        .regex(/^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/, 'must be a lowercase UUID')
        .optional(),
      username: z.string().regex(/^[^:]*$/, 'must not contain ":"').default(''),
      visibility: z.enum(['private', 'unlisted', 'public']).default('private'),
      allowPublicServer: z.boolean().default(false),
      concurrency: positive(4),
      maxBytes: z.number().int().min(4096).default(8_000_000),
      keepUploaded: z.boolean().default(true),
      timeout: positive(120),
      // No default, as http.listen: `teamssh upload` opens a port only when the operator asks.
      httpListen: hostPort.optional(),
    })
    .transform(({ timeout, ...u }) => ({ ...u, timeoutMs: timeout * 1000 }))
    .prefault({}),
  jump: jumpSchema,
  targets: targetsSchema,
});

/** Parsed configuration: file keys as written, durations converted to milliseconds. */
export type RawConfig = z.output<typeof configSchema>;
/** The slice live sessions take. */
export type SessionSettings = RawConfig['sessions'];
/** The slice the recorder takes. */
export type RecordingSettings = RawConfig['recordings'];

