import type { Account } from './account.js';
import type { Containment } from './containment.js';

/** How to start one session's program; see spawnProgram. */
export interface SpawnOptions {
  account: Account;
  /** Without it a uid-0 account is refused (here and again by the launcher). */
  allowRoot: boolean;
  /** Absolute path of the program, e.g. account.shell or a handler program. */
  file: string;
  args: string[];
  /**
   * argv[0] the program sees; defaults to the file's basename. For a login shell pass
   * loginShellArgv0(shell) ("-bash"), as OpenSSH does, instead of relying on "-l".
   */
  argv0?: string;
  /** The complete environment, from buildSessionEnv; nothing else is added but SSH_TTY (and PWD for a pty). */
  env: Record<string, string>;
  /** Present: run in a pseudo-terminal. Absent: pipes, stdout and stderr kept apart. */
  pty?: { cols: number; rows: number; term: string };
  /** Defaults to dist/teamssh-launch next to the compiled sources. */
  launcherPath?: string;
  /** Defaults to sessionContainment(), the one the server chose at start; tests pass their own. */
  containment?: Containment;
}

/**
 * How a session's program ended. A death by signal is reported as `signal` ('TERM', no
 * "SIG"), as ssh2's exit-signal wants; an exit status is reported as-is, even 128+n from a
 * shell whose child was killed, because a program may exit 143 on purpose (OpenSSH agrees).
 */
export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

/** One running program (a session's shell, command or handler), pty or pipes, behind the same interface. */
export interface Program {
  readonly pid: number;
  /** The pty's slave device (/dev/pts/N), whose echo state decides whether input is recorded; absent for pipes. */
  readonly tty?: string | undefined;
  /** Pty output, or stdout for pipes; chunks arriving before a listener are kept for it. */
  onStdout(cb: (b: Buffer) => void): void;
  /**
   * Like onStdout, but each chunk is valid only until `cb` returns (a pty reuses its buffers):
   * for a listener that copies what it keeps. Absent where chunks are always the listener's.
   */
  borrowStdout?(cb: (b: Buffer) => void): void;
  /** Stderr for pipes; never called for a pty (its stderr is the terminal). */
  onStderr(cb: (b: Buffer) => void): void;
  /**
   * Input for the program. Returns false when the program is not reading it fast enough
   * (pipes); the caller stops reading the client until `onInputDrain` fires, so a client
   * cannot make the server buffer input without limit. A pty always returns true: the tty
   * layer takes typed input, and node-pty exposes no back-pressure.
   */
  write(b: Buffer): boolean;
  /** Called when input written after a `false` from write has been taken by the program. */
  onInputDrain(cb: () => void): void;
  /** EOF: closes stdin of pipes; writes one ^D (VEOF) to a pty. */
  endInput(): void;
  /** Window change; zero or negative sizes are ignored (node-pty throws on them). */
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
  /** Client signal request ('INT'): to the pty's foreground process group, or the child's group for pipes. */
  signal(name: string): void;
  /** Called once, after the program exited and its output was drained. */
  onExit(cb: (e: ExitInfo) => void): void;
  /**
   * SIGHUP to the whole session, SIGKILL after graceMs; resolves when no process remains.
   * "The whole session" is its cgroup, or without one what the fallback scan finds
   * (src/launch/containment.ts): also what escaped with setsid or a double fork.
   */
  terminate(graceMs: number): Promise<void>;
}
