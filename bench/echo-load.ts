import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { ownChild } from './child.js';
import * as m from './measure.js';
import type { ClientKey } from './openssh.js';
import { serverPssMb } from './proc-rss.js';
import { valueCell, type Row } from './report.js';
import { nowMs, ratio, summarize } from './stats.js';

/**
 * Typing latency at a busy bastion, and memory per idle session. For each target in turn
 * (OpenSSH's sshd, teamssh recording every session): `idle` interactive pty sessions are
 * opened with the ssh2 client, `perConnection` channels per connection (sshd runs with
 * MaxSessions 1000, teamssh with a per-login cap of 2000), each left at its shell prompt;
 * `streaming` more run `while :; do seq 1 2000; sleep 0.05; done` (about 200 kB/s each, a
 * build log's pace) with the output read and dropped. Then one more pty session runs
 * `stty raw -echo; exec cat` and a byte is sent every 20 ms (for at most 60 s) by a typing
 * client in a process of its own (bench/echo-probe.ts): latency is from the write to its echo
 * arriving. Memory is the server's own processes (proc-rss.ts) before and with the idle
 * sessions open; the targets run one after the other.
 */

const PROBE_MAX_MS = 60_000;

/** The compiled typing client, next to this file. */
const PROBE = fileURLToPath(new URL('./echo-probe.js', import.meta.url));

/** Counts for one run. */
export interface EchoPlan {
  idle: number;
  streaming: number;
  perConnection: number;
  samples: number;
}

/** A target with the pid at the top of its process tree. */
export interface EchoTarget extends m.Target {
  pid: number;
}

interface Load {
  clients: ssh2.Client[];
  close: () => Promise<void>;
}

async function connect(t: m.Target, privateKey: Buffer): Promise<ssh2.Client> {
  const c = new ssh2.Client();
  c.on('error', () => undefined);
  c.connect({ host: '127.0.0.1', port: t.port, username: t.user, privateKey, readyTimeout: 60_000, keepaliveInterval: 0 });
  await once(c, 'ready');
  return c;
}

async function shell(c: ssh2.Client): Promise<ssh2.ClientChannel> {
  const s = await new Promise<ssh2.ClientChannel>((resolve, reject) => c.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, ch) => (err ? reject(err) : resolve(ch))));
  s.on('error', () => undefined);
  return s;
}

/** Opens `count` pty shells, `per` on each connection, 4 connections at a time; each has shown its prompt. */
async function openShells(t: m.Target, privateKey: Buffer, count: number, per: number, load: Load): Promise<ssh2.ClientChannel[]> {
  const out: ssh2.ClientChannel[] = [];
  let left = count;
  const worker = async () => {
    while (left > 0) {
      const n = Math.min(per, left);
      left -= n;
      const c = await connect(t, privateKey);
      load.clients.push(c);
      // Channels on one connection open one after another, as a multiplexing client does.
      for (let i = 0; i < n; i++) {
        const s = await shell(c);
        await Promise.race([once(s, 'data'), new Promise((r) => setTimeout(r, 10_000))]);
        out.push(s);
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return out;
}

function newLoad(): Load {
  const load: Load = {
    clients: [],
    close: async () => {
      await Promise.all(load.clients.map((c) => new Promise<void>((resolve) => {
        const timer = setTimeout(() => (c.destroy(), resolve()), 5000);
        c.once('close', () => (clearTimeout(timer), resolve()));
        c.end();
      })));
    },
  };
  return load;
}

/**
 * Echo latencies (ms) of `samples` single bytes through `stty raw -echo; exec cat`, typed by
 * bench/echo-probe.ts in a process of its own and in a session of its own (detached: the
 * kernel schedules it as its own autogroup, as a terminal's `ssh` would be), so the load's
 * clients in this process do not delay the typing client.
 */
async function probe(t: m.Target, keyPath: string, samples: number): Promise<number[]> {
  const plan = { port: t.port, user: t.user, keyPath, samples, maxMs: PROBE_MAX_MS };
  const child = spawn(process.execPath, [PROBE, JSON.stringify(plan)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stop = ownChild(child, 2000);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  try {
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`${t.name}: echo probe failed (${code}): ${err.trim()}`);
    return JSON.parse(out) as number[];
  } finally {
    await stop();
  }
}

/** One target: RSS before/with the idle sessions, echo latencies with the streaming ones running. */
async function measureOne(t: EchoTarget, keyPath: string, privateKey: Buffer, plan: EchoPlan): Promise<{ rssBefore: number; rssIdle: number; echoMs: number[] }> {
  const load = newLoad();
  try {
    const rssBefore = await serverPssMb(t.pid);
    await openShells(t, privateKey, plan.idle, plan.perConnection, load);
    await new Promise((r) => setTimeout(r, 2000));
    const rssIdle = await serverPssMb(t.pid);
    const streams = await openShells(t, privateKey, plan.streaming, 1, load);
    for (const s of streams) {
      s.on('data', () => undefined);
      s.write('while :; do seq 1 2000; sleep 0.05; done\n');
    }
    await new Promise((r) => setTimeout(r, 1000));
    const echoMs = await probe(t, keyPath, plan.samples);
    return { rssBefore, rssIdle, echoMs };
  } finally {
    await load.close();
  }
}

/** Adds the echo-latency-under-load rows and the RSS-per-idle-session rows for both targets. */
export async function measureEchoUnderLoad(openssh: EchoTarget | undefined, teamssh: EchoTarget | undefined, key: ClientKey, plan: EchoPlan, rows: Row[], notes: string[]): Promise<void> {
  if (!openssh || !teamssh) throw new Error('needs OpenSSH and teamssh');
  const privateKey = await readFile(key.path);
  const results = new Map<string, Awaited<ReturnType<typeof measureOne>>>();
  for (const t of [openssh, teamssh]) {
    const start = nowMs();
    results.set(t.name, await measureOne(t, key.path, privateKey, plan));
    process.stderr.write(`bench: echo ${t.name}: ${((nowMs() - start) / 1000).toFixed(1)} s\n`);
    // sshd and the shells need a moment to go away before the next target's baseline.
    await new Promise((r) => setTimeout(r, 3000));
  }
  const o = results.get('openssh')!;
  const s = results.get('teamssh')!;
  const eo = summarize(o.echoMs);
  const es = summarize(s.echoMs);
  const x = ratio(es.p99, eo.p99);
  const load = `${plan.idle} idle pty sessions + ${plan.streaming} streaming; teamssh recording all`;
  rows.push({ metric: `keystroke echo latency p50 (${load})`, unit: 'ms', openssh: valueCell(eo.p50, eo.n), teamssh: valueCell(es.p50, es.n), target: '–' });
  rows.push({
    metric: `keystroke echo latency p99 (${load})`, unit: 'ms', openssh: valueCell(eo.p99, eo.n), teamssh: valueCell(es.p99, es.n),
    ratio: `${Number.isFinite(x) ? x.toFixed(2) : 'n/a'}× OpenSSH`, target: '≤ 1.2× OpenSSH and < 10 ms', pass: Number.isFinite(x) ? x <= 1.2 && es.p99 < 10 : undefined,
  });
  const perO = (o.rssIdle - o.rssBefore) / plan.idle;
  const perS = (s.rssIdle - s.rssBefore) / plan.idle;
  rows.push({ metric: `RSS with ${plan.idle} idle recorded pty sessions (server processes, PSS; shells not counted)`, unit: 'MB', openssh: valueCell(o.rssIdle), teamssh: valueCell(s.rssIdle), target: '–' });
  rows.push({ metric: `RSS per idle session, ${plan.idle} sessions (server processes, PSS; shells not counted)`, unit: 'MB', openssh: valueCell(perO), teamssh: valueCell(perS), ratio: `${perS.toFixed(2)} MB`, target: '≤ 2 MB', pass: perS <= 2 });
  notes.push(`echo latency: ${plan.idle} idle sessions over ${Math.ceil(plan.idle / plan.perConnection)} connections (${plan.perConnection} channels each), ${plan.streaming} sessions each printing ~200 kB/s on their own connections, one byte every 20 ms through \`stty raw -echo; exec cat\` typed by a client in a process and session of its own (bench/echo-probe.ts); targets measured one after the other, not interleaved (opening ${plan.idle} sessions twice per run would double the time).`);
}
