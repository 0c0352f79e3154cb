import { spawnPipeProgram } from './pipe-process.js';
import { spawnPtyProgram } from './pty-process.js';
import type { Program, SpawnOptions } from './program.js';

/**
 * Starts a program as the account, through the launcher (which drops every inherited
 * descriptor and takes the account's exact uid, gid and groups), in a pty or on pipes
 * (pipes are started by the shared spawner, docs/spawner.md).
 * Throws TeamsshError ERR_ROOT_REFUSED, ERR_BAD_PROGRAM or ERR_LAUNCHER_MISSING.
 */
export function spawnProgram(opts: SpawnOptions): Program {
  return opts.pty ? spawnPtyProgram(opts, opts.pty) : spawnPipeProgram(opts);
}
