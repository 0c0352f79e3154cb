import { appendFile, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { loadJumpKey } from '../src/jump/jump-key.js';
import { startSshd, type ClientKey, type RunningSshd } from './openssh.js';
import { BENCH_LOGIN, startFakes, startTeamssh } from './teamssh.js';
import * as m from './measure.js';
import { medianCell, valueCell, type Row } from './report.js';
import { ratio, summarize } from './stats.js';

/**
 * Jump to an internal host: `ssh bench@db1@teamssh` (recorded, teamssh connects onward with its
 * jump key) against `ssh -J` through OpenSSH's own sshd as the bastion (unrecorded, the client's
 * key end to end), both to the same target sshd. Login latency (`ssh … true`) and pty
 * throughput (`seq 1 N`), alternating runs.
 */
export interface JumpPlan {
  latencyCount: number;
  seqN: number;
  runs: number;
}

export async function measureJump(dir: string, account: { name: string; uid: number; gid: number; home: string }, key: ClientKey, plan: JumpPlan, rows: Row[], notes: string[]): Promise<void> {
  const stops: Array<() => Promise<void>> = [];
  try {
    // sshd reads authorized_keys as the account: the directories above must be traversable (the jump key's are 0700).
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const teamsshDir = path.join(dir, 'teamssh');
    const jumpKey = await loadJumpKey(path.join(teamsshDir, 'state', 'jump_ed25519_key'));
    const sshd = async (name: string, allowTcpForwarding: boolean): Promise<RunningSshd> => {
      const s = await startSshd({ dir: path.join(dir, name), account, clientKey: key, variant: 'plain', allowTcpForwarding });
      stops.push(s.stop);
      return s;
    };
    const target = await sshd('target', false);
    // The target trusts the bench client (for ssh -J, end to end) and teamssh's jump key; sshd reads the file per login.
    await appendFile(path.join(dir, 'target', 'authorized_keys'), `${jumpKey.publicLine}\n`);
    const bastion = await sshd('bastion', true);
    const hostKey = (await readFile(path.join(dir, 'target', 'ssh_host_ed25519_key.pub'), 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    const configFile = path.join(dir, 'teamssh.yaml');
    await writeFile(configFile, stringify({ targets: [{ name: 'db1', host: '127.0.0.1', port: target.port, user: account.name, teams: ['ops'], hostKeys: [hostKey] }] }));
    const fakes = await startFakes(key.publicLine);
    stops.push(fakes.stop);
    const server = await startTeamssh({ dir: teamsshDir, fakes, account: account.name, env: { TEAMSSH_CONFIG: configFile } });
    stops.push(server.stop);

    // ProxyJump is ProxyCommand `ssh -W %h:%p bastion`; a wrapper adds it, so measure.ts drives both the same way.
    const wrapper = path.join(dir, 'ssh-via-openssh-bastion');
    const hop = `ssh -F /dev/null -i ${key.path} -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p ${bastion.port} -W %h:%p ${account.name}@127.0.0.1`;
    await writeFile(wrapper, `#!/bin/sh\nexec ssh -o "ProxyCommand=${hop}" "$@"\n`);
    await chmod(wrapper, 0o755);
    const viaTeamssh: m.Target = { name: 'teamssh', port: server.port, user: `${BENCH_LOGIN}@db1` };
    const viaOpenssh: m.Target = { name: 'openssh', port: target.port, user: account.name, client: wrapper };
    for (const t of [viaOpenssh, viaTeamssh]) {
      const r = await m.ssh(t, key, ['true'], 30_000);
      if (r.code !== 0) throw new Error(`warm-up through ${t.name} failed (exit ${r.code}): ${r.stderr.trim()}`);
    }

    const lat = new Map<string, number[]>([['openssh', []], ['teamssh', []]]);
    for (let i = 0; i < plan.latencyCount; i++) {
      for (const t of i % 2 ? [viaTeamssh, viaOpenssh] : [viaOpenssh, viaTeamssh]) lat.get(t.name)!.push(...(await m.loginLatencies(t, key, 1)));
    }
    const o = summarize(lat.get('openssh')!);
    const s = summarize(lat.get('teamssh')!);
    for (const p of ['p50', 'p99'] as const) {
      const x = ratio(s[p], o[p]);
      rows.push({
        metric: `jump login latency ${p} (ssh … true: ${BENCH_LOGIN}@db1@teamssh vs ssh -J through sshd)`, unit: 'ms',
        openssh: valueCell(o[p], o.n), teamssh: valueCell(s[p], s.n), ratio: `${x.toFixed(2)}× OpenSSH`, target: p === 'p50' ? '≤ 1.2× OpenSSH' : '–',
        ...(p === 'p50' ? { pass: x <= 1.2 } : {}),
      });
    }

    const secs = new Map<string, number[]>([['openssh', []], ['teamssh', []]]);
    for (let run = 0; run < plan.runs; run++) {
      for (const t of run % 2 ? [viaTeamssh, viaOpenssh] : [viaOpenssh, viaTeamssh]) {
        const r = await m.ptyThroughput(t, key, plan.seqN);
        secs.get(t.name)!.push(r.seconds);
        process.stderr.write(`bench: jump pty ${t.name} run ${run + 1}: ${r.seconds.toFixed(2)} s\n`);
      }
    }
    const po = summarize(secs.get('openssh')!);
    const ps = summarize(secs.get('teamssh')!);
    // Throughput: the same bytes in less time, so time(OpenSSH) / time(teamssh); ≥ 1/1.2 is "within 1.2×".
    const x = ratio(po.median, ps.median);
    rows.push({
      metric: `jump pty throughput (ssh -tt 'seq 1 ${plan.seqN}', ${(m.seqBytes(plan.seqN) / 1e6).toFixed(1)} MB, through the jump)`, unit: 's',
      openssh: medianCell(po), teamssh: medianCell(ps), ratio: `${x.toFixed(2)}× OpenSSH`, target: '≥ 0.83× OpenSSH (within 1.2×)', pass: x >= 1 / 1.2,
    });
    notes.push('jump: teamssh records the session and connects onward with ssh2; the OpenSSH row is `ssh -J` (ProxyCommand ssh -W) through a second, unrecorded sshd, the client authenticating to the target end to end. Same target sshd, same client, runs alternate.');
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}
