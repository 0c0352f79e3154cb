import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';

/**
 * The typing side of the echo bench (bench/echo-load.ts), run as a process of its own:
 * `node dist/bench/echo-probe.js '{"port":…,"user":…,"keyPath":…,"samples":…,"maxMs":…}'`.
 * It opens one pty session, runs `stty raw -echo; exec cat`, writes a byte every 20 ms and
 * prints the latencies (ms, write to echo) as one JSON array on stdout.
 *
 * Why a process of its own: a developer's `ssh` is its own process (on another machine,
 * even). In the bench's own process the probe shared one event loop with the ssh2 clients
 * decrypting 20 streams' output (~4 MB/s) and 1,000 idle sessions, so every sample also
 * waited for those clients' work, for both targets alike.
 */

interface ProbePlan {
  port: number;
  user: string;
  keyPath: string;
  samples: number;
  maxMs: number;
}

async function probe(plan: ProbePlan): Promise<number[]> {
  const c = new ssh2.Client();
  c.on('error', () => undefined);
  c.connect({ host: '127.0.0.1', port: plan.port, username: plan.user, privateKey: readFileSync(plan.keyPath), readyTimeout: 60_000, keepaliveInterval: 0 });
  await once(c, 'ready');
  const s = await new Promise<ssh2.ClientChannel>((resolve, reject) => c.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, ch) => (err ? reject(err) : resolve(ch))));
  let seen = 0;
  let waiter: (() => void) | null = null;
  s.on('data', (d: Buffer) => {
    seen += d.length;
    waiter?.();
  });
  s.write('stty raw -echo; exec cat\n');
  // The command's own echo and prompt pass first.
  await new Promise((r) => setTimeout(r, 1500));
  const out: number[] = [];
  // Bounded: a server that echoes slowly still finishes the run, with fewer samples (the row says n).
  const end = performance.now() + plan.maxMs;
  for (let i = 0; i < plan.samples + 5 && performance.now() < end; i++) {
    const before = seen;
    const start = process.hrtime.bigint();
    const echoed = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no echo within 10 s')), 10_000);
      waiter = () => {
        if (seen > before) (clearTimeout(timer), (waiter = null), resolve());
      };
    });
    s.write('x');
    await echoed;
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (i >= 5) out.push(ms); // the first few warm the path
    await new Promise((r) => setTimeout(r, 20));
  }
  c.end();
  return out;
}

probe(JSON.parse(process.argv[2] ?? '') as ProbePlan).then(
  (ms) => process.stdout.write(`${JSON.stringify(ms)}\n`, () => process.exit(0)),
  (err: unknown) => {
    process.stderr.write(`echo-probe: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
