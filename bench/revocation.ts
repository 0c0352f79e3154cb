import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import ssh2 from 'ssh2';
import { makeClientKey, type ClientKey } from './openssh.js';
import { startFakes, startTeamssh, type RunningTeamssh } from './teamssh.js';
import { startGitHubProcess, type GitHubProcess } from './github-process.js';
import { valueCell, type Row } from './report.js';
import { summarize } from './stats.js';

/**
 * Revocation at scale, on teamssh alone (OpenSSH has nothing to compare with):
 *  - webhook → exit: `sessions` live sessions of `logins` logins; half the logins are removed
 *    one at a time, the other half at once (one signed webhook each); per login, the time from
 *    its delivery to the exit status of its last session at the client.
 *  - revalidation cost: with `revalidateSessions` sessions of `revalidateLogins` logins and
 *    nothing changing, the GitHub requests teamssh makes in one revalidation interval.
 */
export interface RevocationPlan {
  logins: number;
  sessions: number;
  revalidateLogins: number;
  revalidateSessions: number;
  /** Seconds; short so the bench waits one whole interval. */
  revalidateInterval: number;
}

const SECRET = 'bench-webhook-secret';

/** One login's open connection and when each of its sessions saw its exit status. */
interface LoginSessions {
  login: string;
  client: ssh2.Client;
  exits: Array<Promise<number>>;
}

async function users(dir: string, github: GitHubProcess, n: number, prefix: string): Promise<Array<{ login: string; key: ClientKey }>> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const login = `${prefix}${i}`;
    const key = await makeClientKey(dir, login);
    await github.addUser(login, key.publicLine);
    out.push({ login, key });
  }
  return out;
}

/** Opens `perLogin` exec sessions of `sleep` for one login on one connection; resolves once all run. */
async function openSessions(port: number, login: string, key: ClientKey, perLogin: number): Promise<LoginSessions> {
  const privateKey = await readFile(key.path);
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
    client.connect({ host: '127.0.0.1', port, username: login, privateKey, readyTimeout: 60_000 });
  });
  const exits: Array<Promise<number>> = [];
  const started: Array<Promise<void>> = [];
  for (let i = 0; i < perLogin; i++) {
    started.push(
      new Promise((resolve, reject) =>
        client.exec('echo go; exec sleep 3600', (err, ch) => {
          if (err) return reject(err);
          ch.once('data', () => resolve());
          ch.stderr.resume();
          // Date.now(): the fake stamps each delivery with the same clock.
          exits.push(new Promise((r) => ch.once('close', () => r(Date.now()))));
        }),
      ),
    );
  }
  await Promise.all(started);
  return { login, client, exits };
}

/**
 * Starts a fake GitHub in its own process and a teamssh with webhooks and revalidation as given
 * against it. The in-process fakes only serve the asciinema side of teamssh's configuration.
 */
async function server(dir: string, account: string, revalidateInterval: number): Promise<{ teamssh: RunningTeamssh; httpPort: number; github: GitHubProcess; stop(): Promise<void> }> {
  const github = await startGitHubProcess();
  const owner = await makeClientKey(path.dirname(dir), `owner-${path.basename(dir)}`);
  const fakes = await startFakes(owner.publicLine, 'owner');
  const teamssh = await startTeamssh({
    dir,
    fakes,
    account,
    env: {
      TEAMSSH_GITHUB_API_URL: github.url,
      GITHUB_TOKEN: github.token,
      TEAMSSH_HTTP_LISTEN: '127.0.0.1:0',
      TEAMSSH_GITHUB_WEBHOOK_SECRET: SECRET,
      TEAMSSH_REVALIDATE_INTERVAL: String(revalidateInterval),
      TEAMSSH_IDLE_TIMEOUT: '0',
    },
  });
  const stop = async () => {
    await teamssh.stop();
    await fakes.stop();
    await github.stop();
  };
  const http = teamssh.logs.find((l) => l.event === 'http_listening');
  if (!http) {
    await stop();
    throw new Error('teamssh did not announce its HTTP listener');
  }
  return { teamssh, httpPort: http.port as number, github, stop };
}

/** Webhook delivery → last exit at the client, per login: one removal at a time, then many at once. */
async function webhookToExit(dir: string, account: string, plan: RevocationPlan, rows: Row[], notes: string[]): Promise<void> {
  const { teamssh, httpPort, github, stop } = await server(path.join(dir, 'webhook'), account, 0);
  try {
    const all = await users(dir, github, plan.logins, 'rev');
    await github.hook(`http://127.0.0.1:${httpPort}/webhooks/github`, SECRET);
    const perLogin = Math.max(1, Math.round(plan.sessions / plan.logins));
    const live: LoginSessions[] = [];
    // A few logins at a time: the point is the revocation, not a login storm.
    for (let i = 0; i < all.length; i += 5) live.push(...(await Promise.all(all.slice(i, i + 5).map((u) => openSessions(teamssh.port, u.login, u.key, perLogin)))));
    // Half the logins leave one at a time (someone leaves the company), the other half at once
    // (a team is cleaned up); every delivery is measured while the other sessions are still live.
    const half = Math.ceil(live.length / 2);
    const one: number[] = [];
    let accepted = 0;
    for (const l of live.slice(0, half)) {
      const [d] = await github.remove([l.login]);
      accepted += d?.status === 202 ? 1 : 0;
      one.push(Math.max(...(await Promise.all(l.exits))) - (d?.sentAt ?? NaN));
    }
    const burstLogins = live.slice(half);
    const sent = await github.remove(burstLogins.map((l) => l.login));
    accepted += sent.filter((d) => d.status === 202).length;
    const sentAt = new Map(sent.map((d) => [d.login, d.sentAt]));
    const burst: number[] = [];
    for (const l of burstLogins) burst.push(Math.max(...(await Promise.all(l.exits))) - (sentAt.get(l.login) ?? NaN));
    for (const l of live) l.client.end();
    const label = `${live.length * perLogin} live sessions of ${live.length} logins`;
    for (const [what, xs] of [[`one removal at a time, ${label}`, one], [`${burstLogins.length} logins removed at once, ${label}`, burst]] as const) {
      const s = summarize(xs);
      rows.push({ metric: `revocation: webhook → last session's exit p50 (${what})`, unit: 'ms', teamssh: valueCell(s.p50, s.n), target: '–' });
      rows.push({ metric: `revocation: webhook → last session's exit p99 (${what})`, unit: 'ms', teamssh: valueCell(s.p99, s.n), ratio: `${Math.round(s.p99)} ms`, target: '< 1000 ms', pass: s.p99 < 1000 });
    }
    notes.push(`revocation: ${accepted} of ${live.length} webhook deliveries answered 202. The fake GitHub runs in a process of its own (bench/github-process.ts), so its answers do not wait behind the bench's SSH clients; delivery and exit times are wall-clock times on this machine.`);
  } finally {
    await stop();
  }
}

/** GitHub requests in one revalidation interval when nothing changed. */
async function revalidationCost(dir: string, account: string, plan: RevocationPlan, rows: Row[]): Promise<void> {
  const { teamssh, github, stop } = await server(path.join(dir, 'revalidate'), account, plan.revalidateInterval);
  const live: LoginSessions[] = [];
  try {
    const all = await users(dir, github, plan.revalidateLogins, 'val');
    const perLogin = Math.max(1, Math.round(plan.revalidateSessions / plan.revalidateLogins));
    for (let i = 0; i < all.length; i += 5) live.push(...(await Promise.all(all.slice(i, i + 5).map((u) => openSessions(teamssh.port, u.login, u.key, perLogin)))));
    // One interval for the first check of every login to settle, then count a whole interval.
    await new Promise((r) => setTimeout(r, plan.revalidateInterval * 1000 + 500));
    await github.resetLog();
    await new Promise((r) => setTimeout(r, plan.revalidateInterval * 1000));
    const { total, notModified } = await github.counts();
    const perLoginRequests = total / live.length;
    const share304 = total ? notModified / total : 0;
    const label = `${live.length * perLogin} sessions of ${live.length} logins, nothing changed`;
    // One check is three conditional requests: the user, the team membership and the keys.
    rows.push({ metric: `revalidation: GitHub requests per login per interval (${label})`, unit: 'req', teamssh: valueCell(perLoginRequests), ratio: `${perLoginRequests.toFixed(2)}/login`, target: '≤ 1 check (3 requests)', pass: perLoginRequests <= 3 });
    rows.push({ metric: 'revalidation: share of those answered 304 (free of rate limit)', unit: '%', teamssh: valueCell(share304 * 100), ratio: `${(share304 * 100).toFixed(0)}%`, target: '100%', pass: share304 === 1 });
  } finally {
    for (const l of live) l.client.end();
    await stop();
  }
}

/** Measures both revocation rows into `rows`. */
export async function measureRevocation(dir: string, account: string, plan: RevocationPlan, rows: Row[], notes: string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  await webhookToExit(dir, account, plan, rows, notes);
  await revalidationCost(dir, account, plan, rows);
}
