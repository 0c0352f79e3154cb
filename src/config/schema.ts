import { z } from 'zod';

/**
 * The typed configuration tree with its defaults. Durations are seconds in the file and the
 * environment (what operators write); the loader hands the rest of the code this shape.
 */

const seconds = (def: number) => z.number().int().min(0).default(def);
const positive = (def: number) => z.number().int().min(1).default(def);

const listen = z
  .string()
  .default('0.0.0.0:2222')
  .transform((s, ctx) => {
    const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `must be host:port, got "${s}"` });
      return z.NEVER;
    }
    return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
  });

const slug = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a GitHub team slug');
const accountName = z.string().regex(/^[a-z_][a-z0-9_.-]*\$?$/i, 'must be a local account name');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** A team's session policy: which local account and which handler its members get. */
export const policySchema = z.object({
  team: slug,
  account: accountName.optional(),
  handler: z.string().min(1).optional(),
});

/** The whole configuration tree. */
export const configSchema = z.object({
  listen,
  hostKey: z.string().min(1).optional(),
  stateDir: z.string().min(1).default('./state'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  logFile: z.string().min(1).optional(),
  github: z
  .object({
    org: z.string({ error: 'required' }).regex(/^[A-Za-z0-9-]+$/, 'must be an organization login'),
    teams: z.array(slug).min(1, 'at least one team is required: teamssh never allows everyone'),
    token: z.string({ error: 'required' }).min(1, 'required'),
    apiUrl: httpUrl.default('https://api.github.com'),
    cacheTtl: positive(300),
    cacheMaxStale: seconds(3600),
    negativeCacheTtl: positive(30),
    requestTimeout: positive(5),
  })
  // An absent `github:` section should report each missing field by name, not "github: required".
  .prefault({} as never),
  auth: z
    .object({
      loginGraceTime: positive(30),
      maxAuthTries: positive(6),
      maxUnauthenticated: positive(100),
      hooks: z.array(z.string().min(1)).default([]),
      hookTimeout: positive(5),
    })
    .prefault({}),
  sessions: z
    .object({
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
    .prefault({}),
  recordings: z
    .object({
      dir: z.string().min(1).default('./recordings'),
      recordInput: z.boolean().default(false),
      failOpen: z.boolean().default(false),
    })
    .prefault({}),
  upload: z
    .object({
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
    })
    .prefault({}),
});

/** Raw parsed configuration (seconds, as written). */
export type RawConfig = z.output<typeof configSchema>;
/** A team policy after parsing. */
export type TeamPolicy = z.output<typeof policySchema>;
