import { execFile } from 'node:child_process';
import { chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lookupAccount, type Account } from '../../src/launch/account.js';

/** Options for ensureTestAccount. */
export interface TestAccountOptions {
  /** Supplementary groups; created with groupadd when missing. */
  groups?: string[];
}

const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
// Startup files emptied so a shell's output is only what the test makes it print.
// /etc/profile and /etc/bash.bashrc still run (they set PATH and PS1 for login/interactive shells).
const STARTUP_FILES = ['.bashrc', '.profile', '.bash_profile', '.bash_login', '.bash_logout'];

function run(file: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: TOOL_ENV, encoding: 'utf8' }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr });
    });
  });
}

// useradd/groupadd lock /etc/passwd and /etc/group; test files running in parallel can
// collide, so "could not lock" is retried and "already exists" (exit 9) counts as done.
async function runIdempotent(file: string, args: string[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const r = await run(file, args);
    if (r.code === 0 || r.code === 9) return;
    if (attempt >= 20) throw new Error(`${file} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
    await new Promise((res) => setTimeout(res, 100 + Math.random() * 200));
  }
}

async function exists(db: 'passwd' | 'group', name: string): Promise<boolean> {
  return (await run('getent', [db, name])).code === 0;
}

/**
 * Creates (or reuses) a local test account with a home directory, /bin/bash as shell,
 * the given supplementary groups and empty shell startup files, and returns it as
 * lookupAccount sees it. Idempotent and safe to call from test files running in
 * parallel. Needs root. Accounts are left in place for later runs.
 */
export async function ensureTestAccount(name: string, opts: TestAccountOptions = {}): Promise<Account> {
  const groups = opts.groups ?? [];
  for (const g of groups) {
    if (!(await exists('group', g))) await runIdempotent('groupadd', [g]);
  }
  if (!(await exists('passwd', name))) {
    await runIdempotent('useradd', ['-m', '-s', '/bin/bash', ...(groups.length ? ['-G', groups.join(',')] : []), name]);
  }
  let account = await lookupAccount(name);
  const gids = await Promise.all(groups.map(groupId));
  if (gids.some((gid) => !account.groups.includes(gid))) {
    await runIdempotent('usermod', ['-a', '-G', groups.join(','), name]);
    account = await lookupAccount(name);
  }
  for (const f of STARTUP_FILES) {
    const path = join(account.home, f);
    writeFileSync(path, '', { mode: 0o644 });
    chownSync(path, account.uid, account.gid);
  }
  return account;
}

/** The gid of a group by name, through NSS; throws when the group does not exist. */
export async function groupId(name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('getent', ['group', name], { env: TOOL_ENV, encoding: 'utf8' }, (err, stdout) => {
      const gid = Number(stdout.split(':')[2]);
      if (err || !Number.isInteger(gid)) reject(new Error(`no group ${name}`));
      else resolve(gid);
    });
  });
}
