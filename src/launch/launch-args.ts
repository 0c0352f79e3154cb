import { accessSync, constants } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TeamsshError } from '../errors.js';
import type { Account } from './account.js';
import { sessionNiceValue } from './priority.js';

/** Error code: a session would run as uid 0 and allowRoot was not given. */
export const ROOT_REFUSED = 'ERR_ROOT_REFUSED';
/** Error code: the compiled launcher is missing or not executable (run `npm run build`). */
export const LAUNCHER_MISSING = 'ERR_LAUNCHER_MISSING';
/** Error code: the program to run is not given as an absolute path. */
export const BAD_PROGRAM = 'ERR_BAD_PROGRAM';

/** Where `npm run build` puts the launcher: dist/teamssh-launch, seen from dist/src/launch/. */
export const DEFAULT_LAUNCHER_PATH = fileURLToPath(new URL('../../teamssh-launch', import.meta.url));

/** What the launcher needs to know to become the account and exec the program. */
export interface LaunchRequest {
  account: Account;
  allowRoot: boolean;
  file: string;
  args: string[];
  argv0?: string | undefined;
  launcherPath?: string | undefined;
  /** The session's cgroup directory the launcher moves itself into before exec; absent: none. */
  cgroupDir?: string | undefined;
}

/** The launcher's path and argv, ready for node-pty or child_process. */
export interface LaunchCommand {
  launcher: string;
  args: string[];
}

/**
 * The argv[0] OpenSSH gives a login shell: "-" plus the shell's name. Every Bourne-style
 * shell, zsh, fish and tcsh read their login files when argv[0] starts with "-", while a
 * "-l" flag is not understood by all of them, so this is the portable way to ask.
 */
export function loginShellArgv0(shell: string): string {
  return `-${basename(shell)}`;
}

/**
 * Checks the request and builds the launcher command line (see src/launch/launcher.c
 * for the argument order); throws TeamsshError codes ROOT_REFUSED, BAD_PROGRAM or LAUNCHER_MISSING.
 */
export function buildLaunchCommand(req: LaunchRequest): LaunchCommand {
  const { account } = req;
  // Checked here for a clear error; the launcher refuses uid 0 on its own as well.
  if (account.uid === 0 && !req.allowRoot) {
    throw new TeamsshError(ROOT_REFUSED, `refusing to start a session as root (account ${account.name})`);
  }
  // The launcher uses execve without a PATH search: the caller says exactly what runs.
  if (!isAbsolute(req.file)) {
    throw new TeamsshError(BAD_PROGRAM, `program must be an absolute path, got ${JSON.stringify(req.file)}`);
  }
  const launcher = req.launcherPath ?? DEFAULT_LAUNCHER_PATH;
  try {
    accessSync(launcher, constants.X_OK);
  } catch (cause) {
    throw new TeamsshError(LAUNCHER_MISSING, `session launcher ${launcher} is missing; run npm run build`, { cause });
  }
  const groups = account.groups.length > 0 ? account.groups.join(',') : '-';
  return {
    launcher,
    args: [
      String(account.uid),
      String(account.gid),
      groups,
      account.home,
      req.allowRoot ? 'allow-root' : 'no-root',
      req.cgroupDir ?? '-',
      String(sessionNiceValue()),
      req.file,
      req.argv0 ?? basename(req.file),
      ...req.args,
    ],
  };
}
