import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { ownChild } from '../../bench/child.js';
import { freePort, privateSshdLines, unlockForPublicKeys, waitForBanner } from '../../bench/openssh.js';
import { ensureTestAccount } from './accounts.js';
import { loadJumpKey, type JumpKey } from '../../src/jump/jump-key.js';

const run = promisify(execFile);
const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

/** The account jump sessions run as on the test targets. */
export const TARGET_ACCOUNT = 'teamssh-tgt';

/** A real OpenSSH sshd on 127.0.0.1 playing an internal host. */
export interface SshdTarget {
  port: number;
  /** Its host key as an OpenSSH public key line, for `hostKeys`. */
  hostKeyLine: string;
  /** sshd's stderr so far (connection log), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts a stock sshd with a private config (its own host key and AuthorizedKeysFile in
 * `dir`, no PAM, no forwarding), admitting `account` with the given keys only. As an internal
 * host behind teamssh would be set up: one authorized_keys line for the jump key.
 */
export async function startSshdTarget(dir: string, account: string, authorizedKeys: string[]): Promise<SshdTarget> {
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'target', '-f', hostKey], { env: TOOL_ENV });
  const authorized = path.join(dir, 'authorized_keys');
  await writeFile(authorized, `${authorizedKeys.join('\n')}\n`, { mode: 0o644 });
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  const lines = [
    ...privateSshdLines(port, hostKey, authorized, account),
    'AcceptEnv LANG LC_* JUMPTEST_*',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'Subsystem sftp internal-sftp',
  ];
  await writeFile(config, `${lines.join('\n')}\n`, { mode: 0o600 });
  await run('/usr/sbin/sshd', ['-t', '-f', config], { env: TOOL_ENV });
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { env: TOOL_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8000)));
  const stop = ownChild(child, 3000);
  try {
    await waitForBanner(port, 10_000, child);
  } catch (err) {
    await stop();
    throw new Error(`target sshd did not start: ${(err as Error).message}\n${stderr}`);
  }
  const [type, blob] = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(/\s+/);
  return { port, hostKeyLine: `${type} ${blob}`, log: () => stderr, stop };
}

/** What jumpSetup made: the target, the jump key, the config file naming them. */
export interface JumpSetup {
  target: SshdTarget;
  jumpKey: JumpKey;
  configFile: string;
}

/**
 * For startHarness's `setup`: the target account, the jump key (made where the server will
 * find it, by the server's own code), a target sshd trusting it, and a YAML config with the
 * targets. `extraTargets` get the same defaults; `db1` is the reachable, correctly pinned one.
 */
export async function jumpSetup(dir: string, extraTargets: (t: SshdTarget) => Array<Record<string, unknown>> = () => []): Promise<JumpSetup> {
  const account = await ensureTestAccount(TARGET_ACCOUNT);
  await unlockForPublicKeys(account.name);
  const jumpKey = await loadJumpKey(path.join(dir, 'state', 'jump_ed25519_key'));
  const target = await startSshdTarget(path.join(dir, 'sshd-db1'), account.name, [`restrict,pty ${jumpKey.publicLine}`]);
  const targets = [{ name: 'db1', host: '127.0.0.1', port: target.port, user: account.name, teams: ['ops'], hostKeys: [target.hostKeyLine] }, ...extraTargets(target)];
  const configFile = path.join(dir, 'teamssh.yaml');
  await writeFile(configFile, stringify({ jump: { connectTimeout: 3 }, targets }));
  return { target, jumpKey, configFile };
}
