import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { ownChild } from './child.js';

/**
 * Private OpenSSH servers for the baseline: Debian's sshd run in the foreground as root with
 * its own config, port and host key, admitting one account by public key only. The "seed"
 * variant wraps every session in `asciinema rec`, the recording pipeline teamssh replaces.
 */

const run = promisify(execFile);
const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const SSHD = '/usr/sbin/sshd';
/** The Debian asciinema CLI (v2.2) the seed pipeline records with. */
export const ASCIINEMA = '/usr/bin/asciinema';

/** A client key pair made by ssh-keygen. */
export interface ClientKey {
  path: string;
  /** `type base64`, as GitHub lists keys. */
  publicLine: string;
}

/** A running private sshd. */
export interface RunningSshd {
  port: number;
  pid: number;
  /** Where the seed variant writes its recordings (undefined for plain sshd). */
  castDir: string | undefined;
  stop(): Promise<void>;
}

/** What startSshd needs. */
export interface SshdOptions {
  /** Private directory for config, host key, authorized_keys (and seed recordings). */
  dir: string;
  account: { name: string; uid: number; gid: number; home: string };
  clientKey: ClientKey;
  /** `seed`: ForceCommand asciinema rec around every session. */
  variant: 'plain' | 'seed';
  /**
   * `curve25519` (default) pins the key exchange teamssh (ssh2) negotiates, so the servers are
   * compared doing the same work; `default` keeps OpenSSH's post-quantum sntrup761x25519,
   * which costs far more CPU per connection on both ends.
   */
  kex?: 'curve25519' | 'default';
  /** Let clients open direct-tcpip channels (an OpenSSH bastion for `ssh -J`); off by default. */
  allowTcpForwarding?: boolean;
}

/** Generates an unencrypted ed25519 key pair named `name` in `dir`. */
export async function makeClientKey(dir: string, name: string): Promise<ClientKey> {
  const file = path.join(dir, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file], { env: TOOL_ENV });
  const [type, blob] = (await readFile(`${file}.pub`, 'utf8')).trim().split(/\s+/);
  return { path: file, publicLine: `${type} ${blob}` };
}

/**
 * Without PAM, sshd refuses accounts whose shadow password starts with "!", which is how
 * useradd leaves a new account. "*" matches no password but is not "locked".
 */
export async function unlockForPublicKeys(account: string): Promise<void> {
  const { stdout } = await run('getent', ['shadow', account], { env: TOOL_ENV });
  if (stdout.split(':')[1]?.startsWith('!')) await run('usermod', ['-p', '*', account], { env: TOOL_ENV });
}

/** A TCP port on 127.0.0.1 that was free a moment ago (sshd cannot be told to pick one). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something on `port` answers with an SSH banner; rejects after `timeoutMs`. */
export async function waitForBanner(port: number, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      const done = (v: boolean) => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(1000, () => done(false));
      s.once('data', (d: Buffer) => done(d.toString('latin1').startsWith('SSH-')));
      s.once('error', () => done(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no SSH banner on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/**
 * The sshd_config lines every private sshd here starts from (the bench's baselines and the
 * tests' jump targets): its own port, host key and AuthorizedKeysFile, public keys only, one account.
 */
export function privateSshdLines(port: number, hostKey: string, authorizedKeys: string, account: string): string[] {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    'PidFile none',
    `AuthorizedKeysFile ${authorizedKeys}`,
    'StrictModes no',
    'UsePAM no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    `AllowUsers ${account}`,
  ];
}

function sshdConfig(o: SshdOptions, port: number, hostKey: string, authorizedKeys: string, castDir: string | undefined): string {
  const lines = [
    ...privateSshdLines(port, hostKey, authorizedKeys, o.account.name),
    // The connection-rate run opens 20 at once: sshd's default 10:30:100 would drop some.
    'MaxStartups 100:30:200',
    'MaxSessions 1000',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    `AllowTcpForwarding ${o.allowTcpForwarding ? 'local' : 'no'}`,
  ];
  if ((o.kex ?? 'curve25519') === 'curve25519') lines.push('KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org');
  if (castDir) {
    // sshd runs ForceCommand through the user's shell with -c; the original command (or a
    // login shell) runs inside asciinema's own pty, as it would in the seed deployment.
    const out = `${castDir}/seed-$$-$(date +%s%N).cast`;
    lines.push(`ForceCommand HOME=${o.account.home} ${ASCIINEMA} rec -q -c "\${SSH_ORIGINAL_COMMAND:-$SHELL -l}" ${out}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Starts a private sshd (`sshd -D -e -f CONFIG`) and resolves once it answers with a banner. */
export async function startSshd(o: SshdOptions): Promise<RunningSshd> {
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  // sshd reads AuthorizedKeysFile as the user, so the directory must be traversable.
  await mkdir(o.dir, { recursive: true });
  await chmod(o.dir, 0o755);
  const hostKey = path.join(o.dir, 'ssh_host_ed25519_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench-host', '-f', hostKey], { env: TOOL_ENV });
  const authorizedKeys = path.join(o.dir, 'authorized_keys');
  await writeFile(authorizedKeys, `${o.clientKey.publicLine} bench\n`, { mode: 0o644 });
  let castDir: string | undefined;
  if (o.variant === 'seed') {
    castDir = path.join(o.dir, 'casts');
    await mkdir(castDir, { recursive: true, mode: 0o700 });
    await chown(castDir, o.account.uid, o.account.gid);
  }
  const port = await freePort();
  const config = path.join(o.dir, 'sshd_config');
  await writeFile(config, sshdConfig(o, port, hostKey, authorizedKeys, castDir), { mode: 0o600 });
  await run(SSHD, ['-t', '-f', config], { env: TOOL_ENV });

  const child = spawn(SSHD, ['-D', '-e', '-f', config], { env: TOOL_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  // sshd logs every connection at INFO; keep only the tail for error messages.
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const stop = ownChild(child, 3000);
  try {
    await waitForBanner(port, 10_000, child);
  } catch (err) {
    await stop();
    throw new Error(`sshd (${o.variant}) did not start: ${(err as Error).message}\n${stderr}`);
  }
  return { port, pid: child.pid!, castDir, stop };
}
