import { z } from 'zod';
import ssh2 from 'ssh2';

/**
 * The `jump:` and `targets:` sections of the config file: the internal hosts teamssh connects
 * onward to, each with its pinned host keys. Targets live in YAML only: a list of hosts with
 * their keys has no sensible one-line environment form (the loader refuses TEAMSSH_TARGETS).
 */

const slug = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a GitHub team slug');

/** An OpenSSH public key line (`type base64 [comment]`) that ssh2 can parse. */
const publicKeyLine = z.string().superRefine((line, ctx) => {
  const parsed = ssh2.utils.parseKey(line.trim());
  if (parsed instanceof Error || (Array.isArray(parsed) ? parsed[0] : parsed)?.isPrivateKey()) {
    ctx.addIssue({ code: 'custom', message: 'must be an OpenSSH public key line, e.g. "ssh-ed25519 AAAA..."' });
  }
});

/** One internal host users may reach through teamssh. */
export const targetSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must match [a-z0-9][a-z0-9-]*'),
  host: z.string().min(1, 'required'),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/, 'must be an account name'),
  teams: z.array(slug).min(1, 'name at least one team: a target nobody may reach is a mistake'),
  hostKeys: z.array(publicKeyLine).min(1, 'pin at least one host key: keys are never learned on first use'),
});

/** The jump key and the onward connection's settings. */
export const jumpSchema = z
  .strictObject({
    key: z.string().min(1).optional(),
    connectTimeout: z.number().int().min(1).default(10),
  })
  .transform(({ connectTimeout, ...j }) => ({ ...j, connectTimeoutMs: connectTimeout * 1000 }))
  .prefault({});

/** The target list (unique names are checked by targetProblems, so they are reported even beside other errors). */
export const targetsSchema = z.array(targetSchema).default([]);

/** One configured target, as the rest of teamssh sees it. */
export type Target = z.output<typeof targetSchema>;

/**
 * Problems the loader reports for targets beyond the schema: targets set through the
 * environment (they can only be written in the config file), and a target naming a team
 * that is not configured (its members could never log in to reach it).
 */
export function targetProblems(env: Record<string, string | undefined>, raw: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const name of Object.keys(env).filter((n) => /^TEAMSSH_TARGETS?(_|$)/.test(n) && env[n] !== undefined)) {
    out.push(`${name} (targets): targets can only be set in the config file (TEAMSSH_CONFIG), not in the environment`);
  }
  const github = raw.github as { teams?: unknown } | undefined;
  const configured = Array.isArray(github?.teams) ? new Set(github.teams.filter((t): t is string => typeof t === 'string').map((t) => t.toLowerCase())) : undefined;
  const targets = Array.isArray(raw.targets) ? (raw.targets as Array<{ name?: unknown; teams?: unknown }>) : [];
  const seen = new Set<string>();
  targets.forEach((t, i) => {
    if (typeof t?.name !== 'string') return;
    if (seen.has(t.name)) out.push(`targets [${i}.name]: "${t.name}" is used by two targets`);
    seen.add(t.name);
  });
  if (!configured) return out;
  targets.forEach((t, i) => {
    for (const team of Array.isArray(t?.teams) ? t.teams : []) {
      if (typeof team === 'string' && !configured.has(team.toLowerCase())) out.push(`targets [${i}.teams]: team "${team}" of target ${String(t.name)} is not in TEAMSSH_GITHUB_TEAMS`);
    }
  });
  return out;
}
