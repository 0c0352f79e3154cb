import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ServerChannel } from 'ssh2';
import type { RecordingSettings, SessionSettings } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Identity } from '../auth/types.js';
import { grantFor, type Grant } from './policy.js';
import type { Admission, RegisteredSession } from './registry.js';
import { lookupAccountCached, type Account } from '../launch/account.js';
import { buildSessionEnv, type ConnectionEnds } from '../launch/env.js';
import { loginShellArgv0 } from '../launch/launch-args.js';
import { spawnProgram } from '../launch/spawn.js';
import type { ExitInfo, Program, SpawnOptions } from '../launch/program.js';
import { Recorder, type RecorderOptions } from '../recording/recorder.js';
import type { EndDetail, SessionFacts } from '../recording/sidecar.js';
import { OutputPump, type OutputStream } from './output-pump.js';
import { recordingName } from '../recording/recordings-dir.js';
import type { SigningOptions } from '../recording/recording-signer.js';
import { recordingRules } from '../recording/redact-rules.js';
import { Redactor } from '../recording/redactor.js';
import { sharedEchoProbe, type EchoProbe } from '../launch/echo-probe.js';
import { InputGate } from './input-gate.js';
import { metrics } from '../metrics/metrics.js';
import type { Onward } from '../jump/jump-service.js';

/** Why a session ended; these strings are part of the audit-log contract. */
export type EndReason = 'exit' | 'client_closed' | 'connection_lost' | 'idle_timeout' | 'max_duration' | 'shutdown' | 'recording_failed' | 'refused' | 'killed' | 'revoked';

/**
 * Where a session is in its life. `starting`: admitted, account and recording being set up,
 * nothing spawned yet. `running`: the program runs. `ending`: asked to end (or the program
 * exited); its processes are being ended and the recording finished. `done`: audited, slot freed.
 */
export type SessionState = 'starting' | 'running' | 'ending' | 'done';

/** What the client asked for before `shell`/`exec`. */
export interface SessionRequest {
  kind: 'shell' | 'exec';
  command?: string | undefined;
  pty?: { term: string; cols: number; rows: number } | undefined;
  clientEnv: Array<{ key: string; val: string }>;
}

/** What a session needs from its connection and the server. */
export interface SessionDeps {
  settings: SessionSettings;
  /** `signing`: the recording-signing key; without it recordings are unsigned. */
  recordings: RecordingSettings & { signing?: SigningOptions | undefined };
  logger: Logger;
  identity: Identity;
  ends: ConnectionEnds;
  /** Which connection the session belongs to, so that connection's loss ends it. */
  connectionId: string;
  hostname: string;
  version: string;
  /** The slot reserved under the per-login cap; the session registers in it and frees it when done. */
  admission: Admission<LiveSession>;
  /** Injectable for tests: the account lookup, the recorder and the spawn. */
  lookupAccount?: (name: string) => Promise<Account>;
  createRecorder?: (opts: RecorderOptions) => Promise<Recorder>;
  spawn?: (opts: SpawnOptions) => Program;
  /** Reads a pty's echo state (default: the server's shared probe helper). */
  echoProbe?: EchoProbe;
  /** Present for a jump session: the program is a session on this target, not a local one. */
  onward?: Onward | undefined;
}

/**
 * One session from `shell`/`exec` to its audit record: picks the grant, opens the
 * recording (fail closed by default), spawns the sandboxed program, tees its output to the
 * client and the recording with back-pressure, enforces the limits, and always sends the
 * client an exit status. Every transition is explicit in `state`; `end()` is safe in any state.
 */
export class LiveSession implements RegisteredSession {
  readonly id = randomBytes(8).toString('hex');
  readonly startedAt = new Date();
  private current: SessionState = 'starting';
  private proc: Program | undefined;
  private recorder: Recorder | undefined;
  private grant: Grant | undefined;
  private account: Account | undefined;
  private endReason: EndReason | undefined;
  private endDetail: EndDetail = {};
  private bytesIn = 0;
  private bytesOut = 0;
  private lastActivity = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private resolveDone!: () => void;
  /** Resolves once the session is over, its recording final and its slot freed. */
  readonly done = new Promise<void>((r) => (this.resolveDone = r));

  constructor(
    private readonly channel: ServerChannel,
    private readonly req: SessionRequest,
    private readonly deps: SessionDeps,
  ) {
    this.log = deps.logger.child({ sessionId: this.id });
    // Registered before anything is awaited: shutdown, connection loss and revocation see it while it starts.
    deps.admission.register(this);
    channel.on('close', () => this.end('client_closed'));
  }

  /** The session's state; see SessionState. */
  get state(): SessionState {
    return this.current;
  }
  get login(): string {
    return this.deps.identity.login;
  }
  get fingerprint(): string {
    return this.deps.identity.fingerprint;
  }
  get teams(): readonly string[] {
    return this.deps.identity.teams;
  }
  get connectionId(): string {
    return this.deps.connectionId;
  }
  /** The team that granted the session (undefined until the policy is chosen). */
  get team(): string | undefined {
    return this.grant?.team;
  }
  get kind(): 'shell' | 'exec' {
    return this.req.kind;
  }
  /** The command as recorded and audited: redacted, so `teamssh sessions` shows no secret either. */
  get command(): string | undefined {
    return this.recordedCommand() ?? undefined;
  }
  /** The jump target the session runs on; undefined for a local session. */
  get target(): string | undefined {
    return this.deps.onward?.target.name;
  }
  get remoteAddress(): string {
    return this.deps.ends.remoteAddress;
  }
  /** Seconds since the last input or output. */
  get idleSeconds(): number {
    return Math.floor((Date.now() - this.lastActivity) / 1000);
  }

  /**
   * Starts the session or refuses it with a one-line message and a non-zero exit status. If
   * `end()` is called while this awaits, nothing is spawned and the start winds down.
   */
  async start(): Promise<void> {
    try {
      await this.begin();
    } catch (err) {
      // A bug, not a refusal: the client still gets a line and an exit status, the slot is freed.
      this.log.error({ event: 'session_error', err }, 'session failed to start');
      this.end('refused', 'session failed to start');
      await this.proc?.terminate(this.deps.settings.killGraceMs).catch(() => undefined);
      await this.windDown({ code: 1, signal: null });
    }
  }

  private async begin(): Promise<void> {
    const { identity, onward } = this.deps;
    const s = this.deps.settings;
    if (onward) return this.beginOnward(onward);
    this.grant = grantFor(identity.teams, s);
    if (!this.grant) return this.refuse('no session policy applies to your teams', 'no_policy');
    try {
      this.account = await (this.deps.lookupAccount ?? lookupAccountCached)(this.grant.account);
    } catch (err) {
      this.log.error({ event: 'account_lookup_failed', account: this.grant.account, err }, 'session account lookup failed');
      return this.refuse('session account unavailable', 'no_account');
    }
    if (this.current !== 'starting') return this.windDown({ code: null, signal: null });
    if (this.account.uid === 0 && !s.allowRoot) return this.refuse('session account unavailable', 'root_refused');

    if (!(await this.openRecording(this.account.shell))) return;
    // Ended (client gone, shutdown, revoked) while the recording was being opened: spawn nothing.
    if (this.current !== 'starting') return this.windDown({ code: null, signal: null });
    try {
      this.proc = this.spawn(this.account, this.grant);
    } catch (err) {
      // The program could not start (missing handler, launcher gone): the recording still
      // closes with the reason, so the queue holds no orphaned .part.
      this.log.error({ event: 'session_refused', reason: 'spawn_failed', err }, 'session program could not start');
      this.current = 'ending';
      this.endReason = 'refused';
      this.notify('session could not start');
      return this.windDown({ code: 1, signal: null });
    }
    this.current = 'running';
    this.wire(this.proc);
  }

  /** Opens the recording; false when the session was refused because it cannot be recorded (fail closed). */
  private async openRecording(shell: string | undefined): Promise<boolean> {
    try {
      this.recorder = await (this.deps.createRecorder ?? Recorder.create)(this.recorderOptions(shell));
      this.recorder.onError((err) => this.onRecordingError(err));
    } catch (err) {
      if (!this.deps.recordings.failOpen) {
        this.log.error({ event: 'recording_failed', err }, 'recording cannot be written; session refused (fail closed)');
        this.refuse('session recording unavailable; try again later', 'recording_failed');
        return false;
      }
      this.log.error({ event: 'recording_failed', unrecorded: true, err }, 'UNRECORDED SESSION: recording cannot be written and recordings.failOpen is on');
    }
    return true;
  }

  /**
   * A jump session: the onward connection first (its failures refuse the session with one
   * line and leave no recording), then the recording, then the remote session runs as this
   * session's Program, so everything after this is the same as for a local program.
   */
  private async beginOnward(onward: Onward): Promise<void> {
    this.grant = { team: onward.team, account: onward.target.user, handler: undefined };
    let proc: Program;
    try {
      proc = await onward.start(this.req);
    } catch (err) {
      const reason = err instanceof Error && 'reason' in err ? String(err.reason) : 'target_session_refused';
      return this.refuse(err instanceof Error ? err.message : 'target unavailable', reason);
    }
    const stop = () => proc.terminate(this.deps.settings.killGraceMs).catch(() => undefined);
    if (this.current !== 'starting') return void stop().then(() => this.windDown({ code: null, signal: null }));
    if (!(await this.openRecording(undefined))) return void stop();
    if (this.current !== 'starting') return void stop().then(() => this.windDown({ code: null, signal: null }));
    this.proc = proc;
    this.auditStart(`ssh://${onward.target.user}@${onward.target.host}:${onward.target.port}`);
    this.current = 'running';
    this.wire(proc);
  }

  private recorderOptions(shell: string | undefined): RecorderOptions {
    const size = this.req.pty ?? { cols: 80, rows: 24, term: undefined };
    const facts = this.facts();
    return {
      dir: this.deps.recordings.dir,
      name: recordingName(this.startedAt, this.login, this.id),
      width: size.cols,
      height: size.rows,
      timestamp: Math.floor(this.startedAt.getTime() / 1000),
      ...(facts.command !== null ? { command: facts.command } : {}),
      title: facts.title,
      env: { ...(size.term ? { TERM: size.term } : {}), ...(shell ? { SHELL: shell } : {}) },
      recordInput: this.deps.recordings.recordInput,
      signing: this.deps.recordings.signing,
      redact: recordingRules(this.deps.recordings),
      // Written at once, so a recording recovered after a crash still names its session.
      meta: facts,
    };
  }

  private spawn(account: Account, grant: Grant): Program {
    const { identity, ends } = this.deps;
    const s = this.deps.settings;
    const { env, refused } = buildSessionEnv({
      account,
      path: s.path,
      term: this.req.pty?.term,
      connection: ends,
      command: this.req.command,
      githubLogin: identity.login,
      sessionId: this.id,
      hookEnv: identity.hookEnv,
      clientEnv: this.req.clientEnv,
      clientEnvAllow: [...s.clientEnv],
    });
    if (refused.length) this.log.warn({ event: 'env_refused', source: 'client', names: refused }, 'client environment variables refused');
    // A handler gets the command in SSH_ORIGINAL_COMMAND; a shell runs it with -c, or starts as a
    // login shell the way OpenSSH starts one: argv[0] "-bash", which every shell understands.
    const file = grant.handler ? path.resolve(grant.handler) : account.shell;
    const shellArgs = this.req.kind === 'exec' ? { args: ['-c', this.req.command ?? ''] } : { args: [], argv0: loginShellArgv0(account.shell) };
    const how = grant.handler ? { args: [] } : shellArgs;
    const proc = (this.deps.spawn ?? spawnProgram)({ account, allowRoot: s.allowRoot, file, ...how, env, ...(this.req.pty ? { pty: this.req.pty } : {}) });
    this.auditStart(file);
    return proc;
  }

  private wire(proc: Program): void {
    const { channel } = this;
    const s = this.deps.settings;
    const pump = new OutputPump(proc, channel, () => this.recorder);
    const activity = () => {
      this.lastActivity = Date.now();
      this.idleTimer?.refresh();
    };
    const send = (stream: OutputStream, b: Buffer, lent = false) => {
      this.bytesOut += b.length;
      activity();
      pump.push(stream, b, lent);
    };
    // A pty lends its output (no buffer per piece); the pump copies only what the channel would keep.
    if (proc.borrowStdout) proc.borrowStdout((b) => send('out', b, true));
    else proc.onStdout((b) => send('out', b));
    proc.onStderr((b) => send('err', b));
    // Input typed while a pty has ECHO off (password prompts) is never recorded; a pty whose name is unknown counts as off.
    const probe = this.deps.echoProbe ?? sharedEchoProbe();
    const tty = proc.tty;
    const input = new InputGate(
      // Stop reading the client (its SSH window closes) until the program takes its input.
      (b) => {
        if (!proc.write(b)) channel.pause();
      },
      this.deps.recordings.recordInput ? (b) => this.recorder?.input(b) : null,
      this.req.pty ? () => (tty ? probe.echoOn(tty) : Promise.resolve(false)) : null,
    );
    channel.on('data', (b: Buffer) => {
      this.bytesIn += b.length;
      activity();
      input.push(b);
    });
    proc.onInputDrain(() => channel.resume());
    channel.on('end', () => input.end(() => proc.endInput()));
    proc.onExit((e) => void this.finish(e));
    if (s.idleTimeoutMs > 0) {
      this.idleTimer = setTimeout(() => this.end('idle_timeout', `idle for ${s.idleTimeoutMs / 1000}s; session closed`), s.idleTimeoutMs);
      this.timers.push(this.idleTimer);
    }
    if (s.maxDurationMs > 0) this.timers.push(setTimeout(() => this.end('max_duration', `maximum session duration (${s.maxDurationMs / 1000}s) reached; session closed`), s.maxDurationMs));
  }

  /** Client resized its window. */
  resize(cols: number, rows: number): void {
    if (this.current !== 'running' || cols < 1 || rows < 1) return;
    this.proc!.resize(cols, rows);
    this.recorder?.resize(cols, rows);
  }

  /** Client sent a signal (name without SIG). */
  signal(name: string): void {
    if (this.current === 'running') this.proc!.signal(name);
  }

  /**
   * Ends the session for `reason`; `message` is shown to the user as one line first. While
   * starting, the start is cancelled and nothing is spawned; while running, the program's
   * processes get SIGHUP, then SIGKILL after the kill grace. Later calls change nothing.
   * `detail` (who killed it, why it was revoked) goes into the audit record and the sidecar.
   */
  end(reason: EndReason, message?: string, detail: EndDetail = {}): void {
    if (this.current === 'ending' || this.current === 'done') return;
    const wasRunning = this.current === 'running';
    this.current = 'ending';
    this.endReason = reason;
    this.endDetail = detail;
    if (message) this.notify(message);
    this.log.info({ event: 'session_ending', reason, ...detail }, 'ending session');
    if (wasRunning) void this.proc!.terminate(this.deps.settings.killGraceMs).catch((err: unknown) => this.log.error({ err }, 'session processes could not be ended'));
  }

  /** Shows one line to the user (and the recording): e.g. the server is going down. */
  notify(message: string): void {
    const line = Buffer.from(`\r\nteamssh: ${message}\r\n`);
    this.recorder?.output(line);
    if (this.channel.writable) (this.req.pty ? this.channel : this.channel.stderr).write(line);
  }

  private onRecordingError(err: Error): void {
    if (this.deps.recordings.failOpen) {
      this.log.error({ event: 'recording_failed', unrecorded: true, err }, 'UNRECORDED SESSION: recording write failed; session continues (fail open)');
      this.recorder = undefined;
      return;
    }
    this.log.error({ event: 'recording_failed', err }, 'recording write failed; ending session (fail closed)');
    this.end('recording_failed', 'session recording failed; session closed');
  }

  /** Refuses before anything ran: message, exit status 1, slot freed. Nothing was recorded. */
  private refuse(message: string, reason: string): void {
    this.log.warn({ event: 'session_refused', login: this.login, reason, remoteAddress: this.remoteAddress }, 'session refused');
    this.sendExit({ code: 1, signal: null }, `teamssh: ${message}\r\n`);
    this.current = 'done';
    this.deps.admission.release();
    this.resolveDone();
  }

  private exitSent = false;

  /** Sends the exit status (and a last line) once; later calls change nothing. */
  private sendExit(e: ExitInfo, stderrLine?: string): void {
    if (this.exitSent || this.channel.destroyed) return;
    this.exitSent = true;
    if (stderrLine && this.channel.writable) this.channel.stderr.write(stderrLine);
    if (e.signal) this.channel.exit(e.signal, false, '');
    else this.channel.exit(e.code ?? 255);
    this.channel.end();
  }

  /** The program exited: its status goes to the client, then what it left behind is ended and the session winds down. */
  private async finish(e: ExitInfo): Promise<void> {
    if (this.current === 'done') return;
    // 'ending' at once: a late end() (idle timer, client close) must not start a second termination.
    this.current = 'ending';
    // The status is the program's, known now: the client need not wait for the clean-up below,
    // which ends with an rmdir of the session cgroup queued on libuv's threads behind other
    // sessions' fsyncs (the login is over for `ssh host true` as soon as the status is out).
    this.sendExit(e);
    // The handler exited, but jobs it left in the background belong to the session too.
    await this.proc?.terminate(this.deps.settings.killGraceMs).catch(() => undefined);
    await this.windDown(e);
  }

  private windingDown: Promise<void> | undefined;

  /** From `ending` to `done`: exit status to the client, recording finished, audit record, slot freed. */
  private windDown(e: ExitInfo): Promise<void> {
    this.windingDown ??= (async () => {
      this.current = 'ending';
      this.endReason ??= 'exit';
      for (const t of this.timers) clearTimeout(t);
      this.sendExit(e);
      const result = await this.finishRecording(e);
      this.deps.admission.release();
      this.auditEnd(e, result);
      this.current = 'done';
      this.resolveDone();
    })();
    return this.windingDown;
  }

  private async finishRecording(e: ExitInfo): Promise<{ castPath: string; sha256: string; redactions?: Record<string, number> } | undefined> {
    if (!this.recorder) return undefined;
    try {
      return await this.recorder.finish({ ...this.endDetail, exitStatus: e.code, exitSignal: e.signal, endReason: this.endReason ?? 'exit', endedAt: new Date().toISOString() });
    } catch (err) {
      this.log.error({ event: 'recording_failed', err }, 'recording could not be finalised; the .part file is recovered at next start');
      return undefined;
    }
  }

  /** Who and what this session is, for the sidecar and the audit log. */
  private facts(): SessionFacts {
    const { identity, ends } = this.deps;
    const command = this.recordedCommand();
    const target = this.deps.onward?.facts();
    const title = `${identity.login}@${target ? `${target.target} via ${this.deps.hostname}` : this.deps.hostname}: ${command ?? 'shell'} from ${ends.remoteAddress}`;
    return {
      sessionId: this.id,
      login: identity.login,
      team: this.grant?.team ?? null,
      fingerprint: identity.fingerprint,
      remoteAddress: ends.remoteAddress,
      remotePort: ends.remotePort,
      account: this.account?.name ?? (target ? target.targetUser : null),
      kind: this.req.kind,
      command,
      handler: this.grant?.handler ?? null,
      startedAt: this.startedAt.toISOString(),
      teamsshVersion: this.deps.version,
      title: title.slice(0, 128),
      ...target,
    };
  }

  private redacted: { command: string | null } | undefined;

  /** The command as the recording header, title, sidecar and audit log show it: redacted like the output. */
  private recordedCommand(): string | null {
    if (!this.redacted) {
      const rules = recordingRules(this.deps.recordings);
      const raw = this.req.command;
      this.redacted = { command: raw === undefined ? null : rules ? Redactor.redactAll(rules, raw) : raw };
    }
    return this.redacted.command;
  }

  private auditStart(file: string): void {
    const pty = this.req.pty ? { term: this.req.pty.term, cols: this.req.pty.cols, rows: this.req.pty.rows } : null;
    const { title: _title, ...facts } = this.facts();
    this.log.info({ event: 'session_start', ...facts, program: file, uid: this.account?.uid, pty, staleIdentity: this.deps.identity.stale }, 'session started');
    metrics.sessionsTotal.inc({ kind: this.req.kind });
  }

  private auditEnd(e: ExitInfo, rec: { castPath: string; sha256: string; redactions?: Record<string, number> } | undefined): void {
    const endedAt = new Date();
    const { title: _title, ...facts } = this.facts();
    metrics.sessionDuration.observe((endedAt.getTime() - this.startedAt.getTime()) / 1000);
    metrics.sessionsEnded.inc({ reason: this.endReason ?? 'exit' });
    this.log.info(
      {
        event: 'session_end',
        ...facts,
        endedAt: endedAt.toISOString(),
        durationMs: endedAt.getTime() - this.startedAt.getTime(),
        exitStatus: e.code,
        exitSignal: e.signal,
        endReason: this.endReason,
        ...this.endDetail,
        // False when the session ended before its program was started.
        started: this.proc !== undefined,
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
        recording: rec?.castPath ?? null,
        sha256: rec?.sha256 ?? null,
        // Matches per redaction rule, never what matched.
        redactions: rec?.redactions ?? null,
      },
      'session ended',
    );
  }
}
