import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';
import type { Summary } from './stats.js';

/**
 * The results page: what machine and versions were measured, and one table row per metric
 * with each target's median (min–max), the teamssh/OpenSSH ratio and the target it must meet.
 */

const run = promisify(execFile);

/** One measured value: a single number, or a median with the spread of its runs. */
export interface Cell {
  value: number;
  min?: number;
  max?: number;
  runs?: number;
}

/** One table row. */
export interface Row {
  metric: string;
  unit: string;
  openssh?: Cell;
  seed?: Cell;
  teamssh?: Cell;
  /** The figure the target is about (a ratio or a plain value), printed in the ratio column. */
  ratio?: string;
  /** The target in words, e.g. "≥ 1.3× OpenSSH". */
  target: string;
  /** undefined: informational row, or the metric could not be measured. */
  pass?: boolean;
}

/** Machine and software the bench ran on. */
export interface Environment {
  date: string;
  mode: string;
  nproc: number;
  cpu: string;
  ramGb: number;
  kernel: string;
  node: string;
  openssh: string;
  teamssh: string;
  asciinema: string;
}

/** A cell from a summary: its median with min–max across runs. */
export function medianCell(s: Summary): Cell {
  return { value: s.median, min: s.min, max: s.max, runs: s.n };
}

/** A cell holding one value (a percentile, or a single run). */
export function valueCell(value: number, runs = 1): Cell {
  return { value, runs };
}

/** A number with about three significant digits, without exponent notation. */
export function fmt(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return x.toFixed(digits);
}

function cell(c: Cell | undefined): string {
  if (!c) return '–';
  if (c.min === undefined || c.max === undefined || (c.runs ?? 1) <= 1) return fmt(c.value);
  return `${fmt(c.value)} (${fmt(c.min)}–${fmt(c.max)})`;
}

/** The results table in markdown. */
export function table(rows: readonly Row[]): string {
  const head = '| metric | unit | OpenSSH | seed (sshd + asciinema rec) | teamssh | teamssh/OpenSSH | target | result |';
  const sep = '|---|---|---|---|---|---|---|---|';
  const body = rows.map((r) => {
    const result = r.pass === undefined ? (r.target === '–' ? 'info' : 'n/a') : r.pass ? 'PASS' : 'FAIL';
    return `| ${r.metric} | ${r.unit} | ${cell(r.openssh)} | ${cell(r.seed)} | ${cell(r.teamssh)} | ${r.ratio ?? '–'} | ${r.target} | ${result} |`;
  });
  return [head, sep, ...body].join('\n');
}

async function tool(file: string, args: string[]): Promise<string> {
  try {
    // asciinema (Python) wants a HOME and a UTF-8 locale even to print its version.
    const { stdout, stderr } = await run(file, args, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: os.tmpdir(), LANG: 'C.UTF-8' } });
    return (stdout || stderr).trim().split('\n')[0] ?? '';
  } catch (err) {
    return `unavailable (${(err as Error).message.split('\n')[0]})`;
  }
}

/** Collects the machine and version facts for the page header. */
export async function environment(mode: string): Promise<Environment> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return {
    date: new Date().toISOString(),
    mode,
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    ramGb: os.totalmem() / 1024 ** 3,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    // ssh -V prints on stderr.
    openssh: await tool('ssh', ['-V']),
    teamssh: pkg.version,
    asciinema: await tool('asciinema', ['--version']),
  };
}

/** The whole results page. */
export function page(env: Environment, rows: readonly Row[], notes: readonly string[]): string {
  return [
    '# teamssh benchmark results',
    '',
    `Run ${env.date} (${env.mode}) with \`npm run bench\`; see bench/README.md for what each metric means.`,
    '',
    `- machine: ${env.nproc} CPUs (${env.cpu}), ${env.ramGb.toFixed(1)} GB RAM, ${env.kernel}`,
    `- versions: node ${env.node}; ${env.openssh}; teamssh ${env.teamssh}; ${env.asciinema}`,
    '- everything on 127.0.0.1; the same OpenSSH client drives every target; runs alternate between targets',
    '- cells: median (min–max) over runs; percentile rows give the percentile over all samples',
    '',
    table(rows),
    '',
    ...(notes.length ? ['## Notes', '', ...notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
}
