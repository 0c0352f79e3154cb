#!/usr/bin/env node
import { Command } from 'commander';
import { loadConfig, loadControlSocketPath, loadSigningKeyPath, ConfigError, type Config } from './config/load.js';
import { askServer } from './control/control-client.js';
import type { ControlResponse, SessionSummary } from './control/protocol.js';
import { SETTINGS } from './config/settings.js';
import { createLogger, type Logger } from './log.js';
import { VERSION } from './version.js';
import { TeamsshError } from './errors.js';
import { preflight } from './preflight.js';
import { runCheck } from './check-command.js';
import { probeGitHub } from './github/probe.js';
import { gitHubConnection } from './github/connection-settings.js';
import { startServer } from './server/server.js';
import { raiseServerPriority } from './launch/priority.js';
import { startUploadService } from './upload/upload-service.js';
import { signingKeyCommand, verifyCommand } from './recording/verify-command.js';
import { startLiveUploader } from './upload/live-uploader.js';
import { jumpKeyCommand } from './jump/jump-key-command.js';

const envHelp = `\nEnvironment (wins over the config file):\n${SETTINGS.map((s) => `  ${s.env.padEnd(32)} ${s.doc.replace(/`/g, '')}`).join('\n')}\n`;

/**
 * Reads the config for a command: the file and this process's environment. A reload calls it
 * again; the environment of a running process does not change, so a reload applies what
 * changed in the file (systemd's EnvironmentFile is read only at a restart).
 */
function readConfig(opts: { config?: string }, overrides: Record<string, string> = {}): Config {
  return loadConfig({ env: { ...process.env, ...overrides }, file: opts.config, runningAsRoot: process.getuid?.() === 0 });
}

/** Loads config for a command, turning problems into one clear message and exit status 2. */
function configFor(opts: { config?: string }, overrides: Record<string, string> = {}): Config {
  try {
    return readConfig(opts, overrides);
  } catch (err) {
    return fail(err);
  }
}

function fail(err: unknown): never {
  if (err instanceof TeamsshError) {
    process.stderr.write(`teamssh: ${err.message}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
  throw err;
}

/** Stops on the first SIGTERM/SIGINT with `stop`, then exits 0; SIGHUP calls `reload` when given. */
function onTermination(log: Logger, stop: () => Promise<void>, reload?: () => void): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'signal', signal }, `received ${signal}`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler).on('SIGINT', handler);
  process.on('SIGHUP', () => {
    log.info({ event: 'signal', signal: 'SIGHUP' }, reload ? 'received SIGHUP: reloading' : 'SIGHUP ignored: restart `teamssh upload` to apply configuration changes');
    reload?.();
  });
}

/**
 * A misspelt team or a token that cannot see it would refuse every member as "not a member";
 * say so at start, without blocking it (GitHub may just be down).
 */
function warnAboutGitHub(config: Config, log: Logger): void {
  void probeGitHub(gitHubConnection(config)).then(
    (report) => {
      for (const l of report.lines.filter((x) => !x.ok)) log.error({ event: 'github_check_failed', check: l.name, detail: l.detail }, `GitHub check failed: ${l.name}: ${l.detail}`);
    },
    (err: unknown) => log.warn({ event: 'github_check_failed', err }, 'GitHub check could not run'),
  );
}

const program = new Command('teamssh')
  .description('SSH front door for a GitHub organization: team members log in with their GitHub keys; every session is recorded and shipped to an asciinema server.')
  .version(VERSION)
  .showHelpAfterError();

program
  .command('serve')
  .description('run the SSH server (and, unless disabled, the recording uploader)')
  .option('-c, --config <file>', 'YAML config file (default: $TEAMSSH_CONFIG)')
  .option('--no-upload', 'do not upload recordings from this process (run `teamssh upload` separately)')
  .addHelpText('after', envHelp)
  .action(async (opts: { config?: string; upload: boolean }) => {
    const overrides: Record<string, string> = opts.upload ? {} : { TEAMSSH_UPLOAD: 'false' };
    const config = configFor(opts, overrides);
    const log = createLogger({ level: config.logLevel, file: config.logFile });
    try {
      await preflight(config);
      // A reload validates as a start does: the loader, then the accounts, handlers and hooks exist.
      const reread = async () => {
        const next = readConfig(opts, overrides);
        await preflight(next);
        return next;
      };
      // Before the server starts threads of its own: threads inherit the nice value of the one that starts them.
      const priority = raiseServerPriority(config.priorityBoost);
      log[priority.ok ? 'info' : 'warn']({ event: 'priority', ...priority }, 'server priority');
      const server = await startServer(config, log, { reread });
      warnAboutGitHub(config, log);
      const uploader = await startLiveUploader(server.live, log);
      onTermination(
        log,
        async () => {
          await server.shutdown();
          await uploader.stop();
        },
        () => void server.reload(),
      );
    } catch (err) {
      log.flush();
      fail(err);
    }
  });

program
  .command('upload')
  .description('run only the recording uploader (the Procfile `uploader:` process)')
  .option('-c, --config <file>', 'YAML config file (default: $TEAMSSH_CONFIG)')
  .addHelpText('after', envHelp)
  .action(async (opts: { config?: string }) => {
    const config = configFor(opts);
    const log = createLogger({ level: config.logLevel, file: config.logFile });
    try {
      const service = await startUploadService(config, log);
      if (!service) process.exit(1);
      onTermination(log, () => service.stop());
    } catch (err) {
      fail(err);
    }
  });

program
  .command('check')
  .description('validate the configuration and probe GitHub, the host key, the recordings directory and the asciinema server')
  .option('-c, --config <file>', 'YAML config file (default: $TEAMSSH_CONFIG)')
  .addHelpText('after', envHelp)
  .action(async (opts: { config?: string }) => {
    const config = configFor(opts);
    const ok = await runCheck(config, (line) => process.stdout.write(`${line}\n`));
    process.exit(ok ? 0 : 1);
  });

program
  .command('jump-key')
  .description("print the jump key's public line for targets' authorized_keys (generated if missing)")
  .option('-c, --config <file>', 'YAML config file (default: $TEAMSSH_CONFIG)')
  .option('--known-hosts', 'print instead the known_hosts lines of the host keys teamssh presents for each target to `ssh -J`')
  .action(async (opts: { config?: string; knownHosts?: boolean }) => {
    try {
      process.stdout.write(await jumpKeyCommand(configFor(opts), opts.knownHosts === true));
    } catch (err) {
      fail(err);
    }
  });

/** The control socket for `sessions` and `kill`: --socket, else the configured one. */
function socketFor(opts: { config?: string; socket?: string }): string {
  try {
    return opts.socket ?? loadControlSocketPath({ env: process.env, file: opts.config });
  } catch (err) {
    return fail(err);
  }
}

/** Asks the running server, or says in one line that there is none (exit status 1). */
async function ask(socket: string, req: Parameters<typeof askServer>[1]): Promise<ControlResponse> {
  try {
    const r = await askServer(socket, req);
    if (!r.ok) return fail(new TeamsshError('ERR_NO_SERVER', `the server refused: ${r.error}`));
    return r;
  } catch (err) {
    return fail(err);
  }
}

function sessionTable(sessions: SessionSummary[]): string {
  const rows = sessions.map((s) => [s.id, s.login, s.team ?? '-', s.fingerprint, s.remoteAddress, s.target ? `${s.kind}@${s.target}` : s.kind, s.startedAt, String(s.idleSeconds), s.command ?? '']);
  const head = ['ID', 'LOGIN', 'TEAM', 'KEY', 'FROM', 'KIND', 'STARTED', 'IDLE_S', 'COMMAND'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

program
  .command('sessions')
  .description('list the live sessions of the running server (through its control socket)')
  .option('-c, --config <file>', 'YAML config file (default: $TEAMSSH_CONFIG)')
  .option('--socket <path>', 'control socket (default: TEAMSSH_CONTROL_SOCKET, else <stateDir>/control.sock)')
  .option('--json', 'one JSON array instead of a table')
  .action(async (opts: { config?: string; socket?: string; json?: boolean }) => {
    const r = await ask(socketFor(opts), { command: 'sessions' });
    const sessions = 'sessions' in r ? r.sessions : [];
    process.stdout.write(opts.json ? `${JSON.stringify(sessions)}\n` : sessions.length ? `${sessionTable(sessions)}\n` : 'no live sessions\n');
  });

program
  .command('kill')
  .description('end a live session (or every session of a login) with end reason "killed"')
  .argument('[session-id]', 'the session to end (see teamssh sessions)')
  .option('--login <login>', 'end every session of this GitHub login')
  .option('-c, --config <file>', 'YAML config file (default: $TEAMSSH_CONFIG)')
  .option('--socket <path>', 'control socket (default: TEAMSSH_CONTROL_SOCKET, else <stateDir>/control.sock)')
  .action(async (id: string | undefined, opts: { login?: string; config?: string; socket?: string }) => {
    if (!id === !opts.login) program.error('teamssh kill: give a session id or --login LOGIN, not both');
    // Only the server's own user can open the socket; SUDO_* names the person behind a sudo.
    const sudoUid = process.env.SUDO_UID && /^\d+$/.test(process.env.SUDO_UID) ? Number(process.env.SUDO_UID) : undefined;
    const operator = { uid: process.getuid?.() ?? -1, sudoUid, sudoUser: process.env.SUDO_USER };
    const r = await ask(socketFor(opts), { command: 'kill', sessionId: id, login: opts.login, operator });
    const killed = 'killed' in r ? r.killed : [];
    if (killed.length === 0) {
      process.stderr.write(`teamssh: no live session ${id ? `with id ${id}` : `of ${opts.login}`}\n`);
      process.exit(1);
    }
    process.stdout.write(`ended ${killed.length} session${killed.length === 1 ? '' : 's'}: ${killed.join(' ')}\n`);
  });

program
  .command('signing-key')
  .description('print the public key that signs recordings (generating the key if missing); see README "Verifying a recording"')
  .option('-c, --config <file>', 'YAML config file (default: $TEAMSSH_CONFIG)')
  .option('--allowed-signers', 'print the allowed_signers line for ssh-keygen -Y verify instead')
  .action(async (opts: { config?: string; allowedSigners?: boolean }) => {
    try {
      process.stdout.write(`${await signingKeyCommand(loadSigningKeyPath({ env: process.env, file: opts.config }), opts.allowedSigners ?? false)}\n`);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('verify')
  .description('check recordings: signature, checkpoint chain and sidecar; one line per file, exit 1 if any fails')
  .argument('<file.cast...>', 'recordings (their .sig, .sig-chain and sidecar are found next to them)')
  .option('-c, --config <file>', 'YAML config file (default: $TEAMSSH_CONFIG)')
  .option('--key <file>', 'trust the ed25519 keys in this .pub or allowed_signers file (default: the configured signing key)')
  .action(async (files: string[], opts: { config?: string; key?: string }) => {
    try {
      const ok = await verifyCommand(files, opts.key ?? { privateKey: loadSigningKeyPath({ env: process.env, file: opts.config }) }, (line) => process.stdout.write(`${line}\n`));
      process.exit(ok ? 0 : 1);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('reload')
  .description('make the running server re-read its configuration file (as SIGHUP does); exits 1 and names every problem if the new configuration is invalid')
  .option('-c, --config <file>', 'YAML config file (default: $TEAMSSH_CONFIG)')
  .option('--socket <path>', 'control socket (default: TEAMSSH_CONTROL_SOCKET, else <stateDir>/control.sock)')
  .action(async (opts: { config?: string; socket?: string }) => {
    const socket = socketFor(opts);
    const r = await askServer(socket, { command: 'reload' }).catch((err: unknown) => fail(err));
    if (!r.ok) {
      const problems = 'problems' in r ? r.problems : [];
      return fail(new TeamsshError('ERR_RELOAD_REFUSED', `reload refused, the server keeps its configuration: ${r.error}${problems.map((p) => `\n  - ${p}`).join('')}`));
    }
    const { applied, deferred } = 'reload' in r ? r.reload : { applied: [], deferred: [] };
    process.stdout.write(`reloaded: ${applied.length ? `applied ${applied.join(', ')}` : 'no live setting changed'}\n`);
    if (deferred.length) process.stdout.write(`changed; applies at restart: ${deferred.join(', ')}\n`);
  });

await program.parseAsync(process.argv);
