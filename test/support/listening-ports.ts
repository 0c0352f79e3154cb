import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * The TCP ports a process listens on, read from /proc (Linux): its descriptors name socket
 * inodes, and /proc/PID/net/tcp{,6} lists the sockets of its network namespace with their
 * state and inode. What the process holds is asked of the kernel, not of its log, so a test
 * can say "no port is open" and mean it.
 */

/** TCP state LISTEN in /proc/net/tcp. */
const LISTEN = '0A';

/** The local ports of the listening TCP sockets (IPv4 and IPv6) that process `pid` holds, sorted. */
export async function listeningPorts(pid: number): Promise<number[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(m[1]!);
  }
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === LISTEN && inodes.has(f[9]!)) ports.add(parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}
