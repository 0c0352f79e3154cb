import * as m from './measure.js';
import type { ClientKey } from './openssh.js';
import { cpuMeter } from './proc-cpu.js';
import { medianCell, type Row } from './report.js';
import { ratio, summarize } from './stats.js';

/**
 * Server CPU seconds per GB of pty output: `ssh -tt host 'seq 1 N'` against OpenSSH's sshd
 * (unrecorded) and teamssh (recorded, uploading), alternating. The server's cost is the CPU of
 * its own processes (sshd's forks, teamssh's node process; proc-cpu.ts), not of the shell and
 * seq, with the kernel's pty and socket time charged to them included. teamssh's figure is taken
 * once its uploader has shipped the recording (the uploader runs in the server process), so the
 * recording's costs count in full.
 */

/** One target to measure: where to ssh and the pid at the top of its process tree. */
export interface CpuTarget extends m.Target {
  pid: number;
}

/** What measurePtyCpu needs from the bench. */
export interface PtyCpuPlan {
  seqN: number;
  runs: number;
  /** Waits until the server has nothing left to do for the last session (its upload). */
  settle: () => Promise<void>;
}

/** CPU seconds of `t`'s server tree for one run, and the bytes the client received. */
async function oneRun(t: CpuTarget, key: ClientKey, n: number, settle: () => Promise<void>): Promise<{ cpu: number; session: number; bytes: number }> {
  await settle();
  const meter = await cpuMeter(t.pid);
  const r = await m.ssh(t, key, ['-tt', `seq 1 ${n}`], 300_000, { countWith: 'wc' }).catch(async (err: unknown) => {
    await meter.stop();
    throw err;
  });
  if (r.code !== 0 || r.bytes < m.seqBytes(n)) throw new Error(`${t.name}: seq run exit ${r.code}, ${r.bytes} bytes: ${r.stderr.trim()}`);
  const session = await meter.read();
  await settle();
  // The session's processes finish a moment after the client exits.
  await new Promise((res) => setTimeout(res, 300));
  return { cpu: await meter.stop(), session, bytes: r.bytes };
}

/** Adds the "server CPU per GB of pty output" row: teamssh recorded vs OpenSSH unrecorded. */
export async function measurePtyCpu(openssh: CpuTarget | undefined, teamssh: CpuTarget | undefined, key: ClientKey, plan: PtyCpuPlan, rows: Row[], notes: string[]): Promise<void> {
  if (!openssh || !teamssh) throw new Error('needs OpenSSH and teamssh');
  // Per run, s/GB: the whole (until the server is done with the session) and the part until the
  // client exits: the SSH stream and the live recording, without what the server does for the
  // session after it (teamssh: finish, signature check, split, upload).
  const whole = { openssh: [] as number[], teamssh: [] as number[] };
  const streaming = { openssh: [] as number[], teamssh: [] as number[] };
  for (let run = 0; run < plan.runs; run++) {
    for (const t of run % 2 ? [teamssh, openssh] : [openssh, teamssh]) {
      const r = await oneRun(t, key, plan.seqN, plan.settle);
      const side = t === openssh ? 'openssh' : 'teamssh';
      whole[side].push(r.cpu / (r.bytes / 1e9));
      streaming[side].push(r.session / (r.bytes / 1e9));
      process.stderr.write(`bench: cpu ${t.name} run ${run + 1}: ${r.cpu.toFixed(2)} s (${r.session.toFixed(2)} s until the client exited) for ${(r.bytes / 1e6).toFixed(1)} MB\n`);
    }
  }
  const row = (metric: string, perGb: typeof whole, target: string, meets?: (x: number) => boolean): Row => {
    const o = summarize(perGb.openssh);
    const s = summarize(perGb.teamssh);
    const x = ratio(s.median, o.median);
    const known = Number.isFinite(x);
    return {
      metric, unit: 's/GB', openssh: medianCell(o), teamssh: medianCell(s), ratio: known ? `${x.toFixed(2)}× OpenSSH` : 'n/a',
      target, ...(meets ? { pass: known ? meets(x) : undefined } : {}),
    };
  };
  rows.push(row(`server CPU per GB of pty output (server process tree, seq 1 ${plan.seqN}; teamssh recorded and uploaded, OpenSSH unrecorded)`, whole, '≤ 1.0× OpenSSH', (x) => x <= 1.0));
  rows.push(row('server CPU per GB while the session streams (the row above until the client exits: teamssh\'s finish, signature check and upload after it not counted)', streaming, '–'));
  notes.push('server CPU per GB: user + system CPU of the server\'s own processes (sshd and its sshd children; teamssh\'s node process), sampled from /proc every 100 ms during the run; the shells and seq are not counted; teamssh measured until its uploader shipped the recording.');
}
