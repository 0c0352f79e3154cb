/**
 * Reads what a Prometheus server would scrape: the text exposition format parsed into samples,
 * so tests compare values of named series instead of matching text.
 */

/** One scrape: every sample keyed by `name{label="value",…}` with labels sorted. */
export class Scrape {
  constructor(
    readonly text: string,
    readonly samples: ReadonlyMap<string, number>,
  ) {}

  /** The value of one series; 0 when the series does not exist (yet), as Prometheus' `or vector(0)`. */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.samples.get(seriesKey(name, labels)) ?? 0;
  }

  /** Whether a series exists at all. */
  has(name: string, labels: Record<string, string> = {}): boolean {
    return this.samples.has(seriesKey(name, labels));
  }

  /** Metric names announced with `# TYPE`. */
  names(): string[] {
    return [...this.text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!);
  }
}

/** GETs `url` and parses the text format; throws unless the answer is 200. */
export async function scrape(url: string, token?: string): Promise<Scrape> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const text = await res.text();
  if (res.status !== 200) throw new Error(`scrape of ${url} answered ${res.status}: ${text}`);
  return parseExposition(text);
}

/** Parses Prometheus text exposition format (no timestamps, as prom-client writes it). */
export function parseExposition(text: string): Scrape {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.set(seriesKey(m[1]!, labels), Number(m[3]));
  }
  return new Scrape(text, samples);
}

function seriesKey(name: string, labels: Record<string, string>): string {
  const parts = Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `${name}{${parts.join(',')}}`;
}
