import { execFile } from 'node:child_process';
import { LRUCache } from 'lru-cache';
import { TeamsshError } from '../errors.js';

/** A local Unix account a session runs as, exactly as the passwd and group databases describe it. */
export interface Account {
  name: string;
  uid: number;
  gid: number;
  /** Every group the account belongs to (primary included), as `id -G` reports it. */
  groups: number[];
  home: string;
  shell: string;
}

/** Error code thrown by lookupAccount when the passwd database has no such account. */
export const NO_ACCOUNT = 'ERR_NO_ACCOUNT';

/** Error code thrown by lookupAccount when the NSS tools fail for another reason. */
export const ACCOUNT_LOOKUP_FAILED = 'ERR_ACCOUNT_LOOKUP_FAILED';

// A conservative POSIX-ish name: it never starts with '-' (it would become an option
// of getent/id) and is never all digits (getent and id would treat it as a uid).
const ACCOUNT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;

// The lookup tools get a fixed environment too: nothing of the server's leaks into them.
const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

interface ToolResult {
  code: number;
  stdout: string;
}

function run(file: string, args: string[]): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: TOOL_ENV, timeout: 10_000, encoding: 'utf8' }, (err, stdout) => {
      if (err && typeof err.code !== 'number') {
        reject(new TeamsshError(ACCOUNT_LOOKUP_FAILED, `could not run ${file}`, { cause: err }));
        return;
      }
      resolve({ code: err ? Number(err.code) : 0, stdout });
    });
  });
}

function noAccount(name: string): TeamsshError {
  return new TeamsshError(NO_ACCOUNT, `no local account named ${JSON.stringify(name)}`);
}

/**
 * Looks an account up through NSS (`getent passwd`, `id -G`), so LDAP/sssd accounts work
 * like local ones; throws a TeamsshError with code ERR_NO_ACCOUNT when it does not exist.
 */
export async function lookupAccount(name: string): Promise<Account> {
  if (!ACCOUNT_NAME.test(name)) throw noAccount(name);

  // getent exits 2 for "not found"; anything else non-zero is a broken lookup, not a missing user.
  const pw = await run('getent', ['passwd', name]);
  if (pw.code === 2) throw noAccount(name);
  if (pw.code !== 0) throw new TeamsshError(ACCOUNT_LOOKUP_FAILED, `getent passwd failed for ${name} (exit ${pw.code})`);
  const fields = pw.stdout.split('\n')[0]?.split(':') ?? [];
  if (fields.length < 7 || fields[0] !== name) throw noAccount(name);
  const [, , uidText, gidText, , home, shell] = fields as [string, string, string, string, string, string, string];
  const uid = Number(uidText);
  const gid = Number(gidText);
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid < 0 || gid < 0) {
    throw new TeamsshError(ACCOUNT_LOOKUP_FAILED, `passwd entry for ${name} has a malformed uid/gid`);
  }

  // `id -G NAME` asks NSS for the same list initgroups() would install.
  const ids = await run('id', ['-G', name]);
  if (ids.code !== 0) throw noAccount(name);
  const groups = ids.stdout.trim().split(/\s+/).filter(Boolean).map(Number);
  if (groups.some((g) => !Number.isInteger(g) || g < 0)) {
    throw new TeamsshError(ACCOUNT_LOOKUP_FAILED, `id -G ${name} returned malformed output`);
  }
  if (!groups.includes(gid)) groups.unshift(gid);

  return {
    name,
    uid,
    gid,
    groups,
    home: home === '' ? '/' : home,
    // An empty shell field means /bin/sh by passwd(5) convention.
    shell: shell === '' ? '/bin/sh' : shell,
  };
}

// Accounts change rarely; two process spawns per login do not. Failures are not cached.
const cache = new LRUCache<string, Account>({ max: 256, ttl: 30_000, fetchMethod: (name) => lookupAccount(name) });

/** lookupAccount behind a 30 s cache shared by concurrent logins: edits to passwd/group still apply within half a minute. */
export async function lookupAccountCached(name: string): Promise<Account> {
  const a = await cache.fetch(name);
  if (!a) throw noAccount(name);
  return a;
}
