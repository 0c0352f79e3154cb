import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ServerChannel } from 'ssh2';
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import type { Identity } from '../server/authenticate.js';
import { grantFor, type Grant } from './policy.js';
import { lookupAccountCached, type Account } from '../launch/account.js';
import { buildSessionEnv, type ConnectionEnds } from '../launch/env.js';
import { spawnProgram } from '../launch/spawn.js';
import type { ExitInfo, Program } from '../launch/program.js';
import { Recorder } from '../recording/recorder.js';
import { OutputPump, type OutputStream } from './output-pump.js';
import { recordingName } from '../recording/recordings-dir.js';

/** Why a session ended; these strings are part of the audit-log contract. */
export type EndReason = 'exit' | 'client_closed' | 'connection_lost' | 'idle_timeout' | 'max_duration' | 'shutdown' | 'recording_failed' | 'refused';

/** What the client asked for before `shell`/`exec`. */
export interface SessionRequest {
  kind: 'shell' | 'exec';
  command?: string | undefined;
  pty?: { term: string; cols: number; rows: number } | undefined;
  clientEnv: Array<{ key: string; val: string }>;
}

/** What a session needs from its connection and the server. */
export interface SessionDeps {
  config: Config;
  logger: Logger;
  identity: Identity;
  ends: ConnectionEnds;
  hostname: string;
  version: string;
  /** Live sessions of the same login, for the per-login cap. */
  sessionsOf(login: string): number;
  register(s: LiveSession): void;
  unregister(s: LiveSession): void;
}

/**
 * One session from `shell`/`exec` to its audit record: picks the grant, opens the
 * recording (fail closed by default), spawns the sandboxed process, tees its output to the
 * client and the recording with back-pressure, enforces the limits, and always sends the
 * client an exit status.
 */
export class LiveSession {
  readonly id = randomBytes(8).toString('hex');
  readonly startedAt = new Date();
  private proc: Program | undefined;
  private recorder: Recorder | undefined;
  private grant: Grant | undefined;
  private account: Account | undefined;
  private endReason: EndReason | undefined;
  private bytesIn = 0;
  private bytesOut = 0;
  private timers: NodeJS.Timeout[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private finished: Promise<void> | undefined;
  private readonly log: Logger;
  private resolveDone!: () => void;
  /** Resolves once the session is over and its recording is final. */
  readonly done = new Promise<void>((r) => (this.resolveDone = r));

  constructor(
    private readonly channel: ServerChannel,
    private readonly req: SessionRequest,
    private readonly deps: SessionDeps,
  ) {
    this.log = deps.logger.child({ sessionId: this.id });
  }

  /** Starts the session or refuses it with a one-line message and a non-zero exit status. */
  async start(): Promise<void> {
    const { config, identity } = this.deps;
    const s = config.sessions;
    this.grant = grantFor(identity.teams, s);
    if (!this.grant) return this.refuse('no session policy applies to your teams', 'no_policy');
    if (this.deps.sessionsOf(identity.login) >= s.maxPerLogin) return this.refuse(`too many sessions (limit ${s.maxPerLogin})`, 'session_limit');
    try {
      this.account = await lookupAccountCached(this.grant.account);
    } catch (err) {
      this.log.error({ event: 'session_refused', account: this.grant.account, err }, 'session account lookup failed');
      return this.refuse('session account unavailable', 'no_account');
    }
    if (this.account.uid === 0 && !s.allowRoot) return this.refuse('session account unavailable', 'root_refused');
    this.deps.register(this);

    const size = this.req.pty ?? { cols: 80, rows: 24, term: undefined };
    const title = `${identity.login}@${this.deps.hostname}: ${this.req.command ?? 'shell'} from ${this.deps.ends.remoteAddress}`;
    try {
      this.recorder = await Recorder.create({
        dir: config.recordings.dir,
        name: recordingName(this.startedAt, identity.login, this.id),
        width: size.cols,
        height: size.rows,
        timestamp: Math.floor(this.startedAt.getTime() / 1000),
        ...(this.req.command !== undefined ? { command: this.req.command } : {}),
        title: title.slice(0, 128),
        env: { ...(size.term ? { TERM: size.term } : {}), SHELL: this.account.shell },
        recordInput: config.recordings.recordInput,
        // Written at once, so a recording recovered after a crash still names its session.
        meta: this.fields({ kind: this.req.kind }),
      });
      this.recorder.onError((err) => this.onRecordingError(err));
    } catch (err) {
      if (!config.recordings.failOpen) {
        this.log.error({ event: 'recording_failed', err }, 'recording cannot be written; session refused (fail closed)');
        this.deps.unregister(this);
        return this.refuse('session recording unavailable; try again later', 'recording_failed');
      }
      this.log.error({ event: 'recording_failed', unrecorded: true, err }, 'UNRECORDED SESSION: recording cannot be written and recordings.failOpen is on');
    }
    try {
      this.spawn();
    } catch (err) {
      // The program could not start (missing handler, launcher gone): the recording still
      // closes with the reason, so the queue holds no orphaned .part.
      this.log.error({ event: 'session_refused', reason: 'spawn_failed', err }, 'session program could not start');
      this.endReason = 'refused';
      this.notify('session could not start');
      await this.finish({ code: 1, signal: null });
    }
  }

  private spawn(): void {
    const { config, identity, ends } = this.deps;
    const account = this.account!;
    const grant = this.grant!;
    const { env, refused } = buildSessionEnv({
      account,
      path: config.sessions.path,
      term: this.req.pty?.term,
      connection: ends,
      command: this.req.command,
      githubLogin: identity.login,
      sessionId: this.id,
      hookLines: Object.entries(identity.hookEnv).map(([k, v]) => `${k}=${v}`),
      clientEnv: this.req.clientEnv,
      clientEnvAllow: [...config.sessions.clientEnv],
    });
    if (refused.length) this.log.warn({ event: 'env_refused', names: refused }, 'client environment variables refused');
    const file = grant.handler ? path.resolve(grant.handler) : account.shell;
    const args = grant.handler ? [] : this.req.kind === 'exec' ? ['-c', this.req.command ?? ''] : ['-l'];
    this.proc = spawnProgram({ account, allowRoot: config.sessions.allowRoot, file, args, env, ...(this.req.pty ? { pty: this.req.pty } : {}) });
    this.auditStart(file);
    this.wire(this.proc);
  }

  private wire(proc: Program): void {
    const { channel } = this;
    const s = this.deps.config.sessions;
    const pump = new OutputPump(proc, channel, () => this.recorder);
    const send = (stream: OutputStream, b: Buffer) => {
      this.bytesOut += b.length;
      this.idleTimer?.refresh();
      pump.push(stream, b);
    };
    proc.onStdout((b) => send('out', b));
    proc.onStderr((b) => send('err', b));
    channel.on('data', (b: Buffer) => {
      this.bytesIn += b.length;
      this.idleTimer?.refresh();
      this.recorder?.input(b);
      // Stop reading the client (its SSH window closes) until the program takes its input.
      if (!proc.write(b)) channel.pause();
    });
    proc.onInputDrain(() => channel.resume());
    channel.on('end', () => proc.endInput());
    channel.on('close', () => this.end(this.endReason ?? 'client_closed'));
    proc.onExit((e) => void this.finish(e));
    if (s.idleTimeout > 0) {
      this.idleTimer = setTimeout(() => this.end('idle_timeout', `idle for ${s.idleTimeout}s; session closed`), s.idleTimeout * 1000);
      this.timers.push(this.idleTimer);
    }
    if (s.maxDuration > 0) this.timers.push(setTimeout(() => this.end('max_duration', `maximum session duration (${s.maxDuration}s) reached; session closed`), s.maxDuration * 1000));
  }

  /** Client resized its window. */
  resize(cols: number, rows: number): void {
    if (!this.proc || cols < 1 || rows < 1) return;
    this.proc.resize(cols, rows);
    this.recorder?.resize(cols, rows);
  }

  /** Client sent a signal (name without SIG). */
  signal(name: string): void {
    this.proc?.signal(name);
  }

  /** Ends the session for `reason`; `message` is shown to the user as one line first. */
  end(reason: EndReason, message?: string): void {
    if (this.endReason || this.finished || !this.proc) return;
    this.endReason = reason;
    if (message) this.notify(message);
    this.log.info({ event: 'session_ending', reason }, 'ending session');
    void this.proc.terminate(this.deps.config.sessions.killGrace * 1000);
  }

  /** Shows one line to the user (and the recording): e.g. the server is going down. */
  notify(message: string): void {
    const line = Buffer.from(`\r\nteamssh: ${message}\r\n`);
    this.recorder?.output(line);
    if (this.channel.writable) (this.req.pty ? this.channel : this.channel.stderr).write(line);
  }

  private onRecordingError(err: Error): void {
    if (this.deps.config.recordings.failOpen) {
      this.log.error({ event: 'recording_failed', unrecorded: true, err }, 'UNRECORDED SESSION: recording write failed; session continues (fail open)');
      this.recorder = undefined;
      return;
    }
    this.log.error({ event: 'recording_failed', err }, 'recording write failed; ending session (fail closed)');
    this.end('recording_failed', 'session recording failed; session closed');
  }

  private refuse(message: string, reason: string): void {
    this.log.warn({ event: 'session_refused', login: this.deps.identity.login, reason, remoteAddress: this.deps.ends.remoteAddress }, 'session refused');
    this.channel.stderr.write(`teamssh: ${message}\r\n`);
    this.channel.exit(1);
    this.channel.end();
    this.resolveDone();
  }

  private finish(e: ExitInfo): Promise<void> {
    this.finished ??= (async () => {
      this.endReason ??= 'exit';
      for (const t of this.timers) clearTimeout(t);
      // The handler exited, but jobs it left in the background belong to the session too.
      await this.proc?.terminate(this.deps.config.sessions.killGrace * 1000).catch(() => undefined);
      if (this.channel.writable || !this.channel.destroyed) {
        if (e.signal) this.channel.exit(e.signal, false, '');
        else this.channel.exit(e.code ?? 255);
        this.channel.end();
      }
      const result = await this.finishRecording(e);
      this.deps.unregister(this);
      this.auditEnd(e, result);
      this.resolveDone();
    })();
    return this.finished;
  }

  private async finishRecording(e: ExitInfo): Promise<{ castPath: string; sha256: string } | undefined> {
    if (!this.recorder) return undefined;
    try {
      return await this.recorder.finish(this.fields({ exitStatus: e.code, exitSignal: e.signal, endReason: this.endReason, endedAt: new Date().toISOString() }));
    } catch (err) {
      this.log.error({ event: 'recording_failed', err }, 'recording could not be finalised; the .part file is recovered at next start');
      return undefined;
    }
  }

  private fields(extra: Record<string, unknown>): Record<string, unknown> {
    const { identity, ends } = this.deps;
    return {
      sessionId: this.id,
      login: identity.login,
      team: this.grant?.team,
      fingerprint: identity.fingerprint,
      remoteAddress: ends.remoteAddress,
      remotePort: ends.remotePort,
      account: this.account?.name,
      command: this.req.command ?? null,
      handler: this.grant?.handler ?? null,
      startedAt: this.startedAt.toISOString(),
      teamsshVersion: this.deps.version,
      ...extra,
    };
  }

  private auditStart(file: string): void {
    const pty = this.req.pty ? { term: this.req.pty.term, cols: this.req.pty.cols, rows: this.req.pty.rows } : null;
    this.log.info({ event: 'session_start', ...this.fields({ kind: this.req.kind, program: file, uid: this.account?.uid, pty, staleIdentity: this.deps.identity.stale }) }, 'session started');
  }

  private auditEnd(e: ExitInfo, rec: { castPath: string; sha256: string } | undefined): void {
    const endedAt = new Date();
    this.log.info(
      {
        event: 'session_end',
        ...this.fields({
          kind: this.req.kind,
          endedAt: endedAt.toISOString(),
          durationMs: endedAt.getTime() - this.startedAt.getTime(),
          exitStatus: e.code,
          exitSignal: e.signal,
          endReason: this.endReason,
          bytesIn: this.bytesIn,
          bytesOut: this.bytesOut,
          recording: rec?.castPath ?? null,
          sha256: rec?.sha256 ?? null,
        }),
      },
      'session ended',
    );
  }
}
