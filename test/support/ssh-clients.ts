import { spawn, execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ClientKey, SshResult } from './teamssh.js';

const run = promisify(execFile);

/** Where scripts/debian13-tools.sh unpacks Debian 13's OpenSSH 10 client and ssh-audit. */
export const DEBIAN13_BIN = path.resolve('.cache/debian13/bin');

/** What one client run is asked to do. */
export interface ClientRun {
  port: number;
  user: string;
  /** The key in this client's own format (from `prepareKey`). */
  key: string;
  command: string;
  input?: string;
  tty?: boolean;
  /** `SHA256:...` of the server's ed25519 host key, for clients that insist on checking it. */
  hostKey: string;
  /** Extra client options (verbose flags and the like). */
  extra?: string[];
}

/** One real SSH client, driven the same way as every other in the matrix. */
export interface SshClientTool {
  name: string;
  /** Why it cannot run here, or undefined when it can. */
  missing(): string | undefined;
  /** Converts an OpenSSH private key to this client's format; returns its path. */
  prepareKey(key: ClientKey): Promise<string>;
  ssh(r: ClientRun): Promise<SshResult>;
  /** Copies `local` to `remote` (a path in the session account's home) with this client's scp, if it has one. */
  scp?(r: Omit<ClientRun, 'command' | 'input' | 'tty'>, local: string, remote: string): Promise<SshResult>;
}

function spawnResult(bin: string, args: string[], input: string | undefined, timeoutMs = 20_000): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    // No agent, a throwaway HOME: only the key given is used, no known_hosts is written.
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function onPath(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const openSshOptions = ['-F', '/dev/null', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'];

/** An OpenSSH client: the system's, or Debian 13's OpenSSH 10 from `dir`. */
function openssh(name: string, dir: string | undefined): SshClientTool {
  const ssh = dir ? path.join(dir, 'ssh') : 'ssh';
  const scp = dir ? path.join(dir, 'scp') : 'scp';
  return {
    name,
    missing: () => (dir && !existsSync(ssh) ? `${ssh} missing: run scripts/debian13-tools.sh` : undefined),
    prepareKey: async (k) => k.path,
    // Extra options first: for OpenSSH the first value given for an option wins.
    ssh: (r) => spawnResult(ssh, [...(r.extra ?? []), ...openSshOptions, '-o', 'LogLevel=ERROR', '-i', r.key, '-p', String(r.port), ...(r.tty ? ['-tt'] : ['-T']), `${r.user}@127.0.0.1`, r.command], r.input),
    // -O: the legacy scp protocol (teamssh refuses the sftp subsystem). -S: its own ssh.
    scp: (r, local, remote) => spawnResult(scp, ['-O', '-S', ssh, ...openSshOptions, '-o', 'LogLevel=ERROR', '-i', r.key, '-P', String(r.port), local, `${r.user}@127.0.0.1:${remote}`], undefined),
  };
}

/** Dropbear's dbclient, keys converted with dropbearconvert. */
function dropbear(): SshClientTool {
  return {
    name: 'dropbear dbclient',
    missing: () => (onPath('dbclient') ? undefined : 'dbclient missing: apt-get install dropbear-bin'),
    async prepareKey(k) {
      const out = `${k.path}.dropbear`;
      if (!existsSync(out)) await run('dropbearconvert', ['openssh', 'dropbear', k.path, out]);
      return out;
    },
    // -y -y: no host key check (a fresh test server); no tty for a password prompt, so a refused key ends the run.
    ssh(r) {
      const args = ['-y', '-y', ...(r.extra ?? []), '-i', r.key, '-p', String(r.port), ...(r.tty ? ['-t'] : ['-T']), `${r.user}@127.0.0.1`, r.command];
      if (!r.tty) return spawnResult('dbclient', args, r.input);
      // dbclient puts its own terminal in raw mode for a pty session, so it needs one: script(1) gives it a pty.
      return spawnResult('script', ['-qec', ['dbclient', ...args].map(shellQuote).join(' '), '/dev/null'], r.input);
    },
    // dropbear-bin ships no scp, and OpenSSH's scp passes dbclient options it does not know.
  };
}

/** PuTTY's plink and pscp, keys converted with puttygen; the host key is pinned by fingerprint. */
function putty(): SshClientTool {
  const common = (r: { key: string; port: number; hostKey: string }) => ['-batch', '-noagent', '-i', r.key, '-P', String(r.port), '-hostkey', r.hostKey];
  return {
    name: 'putty plink',
    missing: () => (onPath('plink') && onPath('puttygen') ? undefined : 'plink missing: apt-get install putty-tools'),
    async prepareKey(k) {
      const out = `${k.path}.ppk`;
      if (!existsSync(out)) await run('puttygen', [k.path, '-O', 'private', '-o', out]);
      return out;
    },
    ssh: (r) => spawnResult('plink', ['-ssh', ...common(r), ...(r.extra ?? []), ...(r.tty ? ['-t'] : ['-T']), `${r.user}@127.0.0.1`, r.command], r.input),
    scp: (r, local, remote) => spawnResult('pscp', ['-scp', ...common(r), local, `${r.user}@127.0.0.1:${remote}`], undefined),
  };
}

/** Every client of the matrix, in the order the tests run them. */
export function clientMatrix(): SshClientTool[] {
  return [openssh('OpenSSH 9 (system)', undefined), openssh('OpenSSH 10 (Debian 13)', DEBIAN13_BIN), dropbear(), putty()];
}
