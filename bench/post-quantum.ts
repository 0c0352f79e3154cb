import { existsSync } from 'node:fs';
import path from 'node:path';
import * as m from './measure.js';
import type { ClientKey } from './openssh.js';
import { medianCell, valueCell, type Row } from './report.js';
import { ratio, summarize } from './stats.js';

/**
 * Post-quantum logins: the same OpenSSH 10 client (Debian 13's, unpacked by
 * scripts/debian13-tools.sh) with its default key exchange against teamssh, where it negotiates
 * mlkem768x25519-sha256, and against Debian 12's sshd with its default configuration, where it
 * negotiates sntrup761x25519-sha512 (OpenSSH 9.2 has no ML-KEM). Each is a post-quantum hybrid.
 */

/** Debian 13's OpenSSH 10 client, if scripts/debian13-tools.sh unpacked it. */
export const OPENSSH10 = path.resolve('.cache/debian13/bin/ssh');

/** The two targets, driven by OpenSSH 10, with the key exchange each negotiates. */
export interface PqTargets {
  openssh: m.Target & { kex: string };
  teamssh: m.Target & { kex: string };
}

/** The key exchange OpenSSH 10 negotiates with `t`, from its -v output. */
async function negotiatedKex(t: m.Target, key: ClientKey): Promise<string> {
  const v = await m.ssh(t, key, ['true'], 30_000, { verbose: true });
  if (v.code !== 0) throw new Error(`${t.name}: OpenSSH 10 login failed (exit ${v.code}): ${v.stderr.trim()}`);
  return /kex: algorithm: (\S+)/.exec(v.stderr)?.[1] ?? 'unknown';
}

/** Both targets with OpenSSH 10 as the client, or a reason they cannot be measured. */
export async function postQuantumTargets(openssh: m.Target | undefined, teamssh: m.Target | undefined, key: ClientKey): Promise<PqTargets> {
  if (!existsSync(OPENSSH10)) throw new Error(`${OPENSSH10} missing: run scripts/debian13-tools.sh`);
  if (!openssh || !teamssh) throw new Error('needs both the default-kex sshd and teamssh');
  const o = { ...openssh, name: 'openssh', client: OPENSSH10 };
  const s = { ...teamssh, name: 'teamssh', client: OPENSSH10 };
  return { openssh: { ...o, kex: await negotiatedKex(o, key) }, teamssh: { ...s, kex: await negotiatedKex(s, key) } };
}

/** Login latency p50/p99 and connection rate of both, interleaved; target: teamssh no slower. */
export async function measurePostQuantum(
  t: PqTargets,
  key: ClientKey,
  plan: { latencyCount: number; conns: number; concurrency: number; runs: number; beforeEach: () => Promise<void> },
  rows: Row[],
  notes: string[],
): Promise<void> {
  const label = `OpenSSH 10 client, default kex: teamssh ${t.teamssh.kex}, OpenSSH ${t.openssh.kex}`;
  const lat = new Map<string, number[]>([['openssh', []], ['teamssh', []]]);
  for (let i = 0; i < plan.latencyCount; i++) {
    for (const target of i % 2 ? [t.teamssh, t.openssh] : [t.openssh, t.teamssh]) {
      await plan.beforeEach();
      lat.get(target.name)!.push(...(await m.loginLatencies(target, key, 1)));
    }
  }
  const o = summarize(lat.get('openssh')!);
  const s = summarize(lat.get('teamssh')!);
  const x = ratio(o.p50, s.p50);
  rows.push({ metric: `post-quantum login latency p50 (${label})`, unit: 'ms', openssh: valueCell(o.p50, o.n), teamssh: valueCell(s.p50, s.n), ratio: `${x.toFixed(2)}× faster`, target: 'teamssh ≤ OpenSSH', pass: s.p50 <= o.p50 });
  rows.push({ metric: 'post-quantum login latency p99', unit: 'ms', openssh: valueCell(o.p99, o.n), teamssh: valueCell(s.p99, s.n), target: '–' });

  const rates = new Map<string, number[]>([['openssh', []], ['teamssh', []]]);
  for (let run = 0; run < plan.runs; run++) {
    for (const target of run % 2 ? [t.teamssh, t.openssh] : [t.openssh, t.teamssh]) {
      await plan.beforeEach();
      const r = await m.connectionRate(target, key, plan.conns, plan.concurrency);
      rates.get(target.name)!.push(r.rate);
      if (r.failures) notes.push(`post-quantum connection rate: ${target.name} run ${run + 1}: ${r.failures} of ${plan.conns} failed (${r.firstError})`);
    }
  }
  const ro = summarize(rates.get('openssh')!);
  const rs = summarize(rates.get('teamssh')!);
  const rx = ratio(rs.median, ro.median);
  rows.push({ metric: `post-quantum connection rate (${plan.conns} × ssh true, concurrency ${plan.concurrency})`, unit: 'conn/s', openssh: medianCell(ro), teamssh: medianCell(rs), ratio: `${rx.toFixed(2)}× OpenSSH`, target: '≥ 1.0× OpenSSH', pass: rx >= 1 });
  notes.push(`Post-quantum rows: ${label}. The OpenSSH side is Debian 12's sshd with its default KexAlgorithms (no OpenSSH 10 sshd here).`);
}
