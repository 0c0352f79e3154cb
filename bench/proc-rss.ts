import { readdir, readFile } from 'node:fs/promises';

/**
 * Memory of a server's own processes: `root` and every process under it whose command name is
 * the root's (sshd's per-connection and per-session children; teamssh's single node process),
 * not the shells and launchers the sessions run, which both designs start alike. Summed as PSS
 * (proportional set size), so the pages sshd's forks share are counted once, not per fork.
 */
export async function serverPssMb(root: number): Promise<number> {
  const comm = async (pid: number) => (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
  const parent = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (text) parent.set(pid, Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]));
  }
  const own = await comm(root);
  let kb = 0;
  for (const pid of parent.keys()) {
    let p: number | undefined = pid;
    while (p !== undefined && p > 1 && p !== root) p = parent.get(p);
    if (p !== root || (await comm(pid)) !== own) continue;
    const m = /^Pss:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => ''));
    kb += m ? Number(m[1]) : 0;
  }
  return kb / 1024;
}
