/**
 * The asciinema server's acceptance rules for an asciicast v2 upload, as contracts.md §3 states
 * them. Every test that produces a recording should assert `validateAsciicast(text)` is empty:
 * a file this rejects would be refused with 422 and never reach the security reviewers.
 */

const ENV_KEY = /^[A-Z0-9_]+$/;
const COLOUR = /^#[0-9a-f]{6}$/;
const RESIZE = /^\d+x\d+$/;

/** Lists every rule of contracts.md §3 the recording breaks (empty = the server would accept it); accepts text or raw bytes. */
export function validateAsciicast(text: string | Uint8Array): string[] {
  const problems: string[] = [];
  const compressed = compression(text);
  if (compressed) return [`file is ${compressed}-compressed; the server wants plain text`];
  const str = typeof text === 'string' ? text : Buffer.from(text).toString('utf8');
  const lines = str.split('\n');
  const headerLine = lines[0] ?? '';
  if (!headerLine.startsWith('{')) return ['line 1: the header must be a JSON object starting with "{"'];
  let header: unknown;
  try {
    header = JSON.parse(headerLine);
  } catch (err) {
    return [`line 1: header is not valid JSON (${(err as Error).message})`];
  }
  if (!isObject(header)) return ['line 1: header is not a JSON object'];
  checkHeader(header, problems);

  let events = 0;
  let last = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const where = `line ${i + 1}`;
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      problems.push(`${where}: not valid JSON`);
      continue;
    }
    if (!Array.isArray(ev) || ev.length !== 3) {
      problems.push(`${where}: an event must be a JSON array [time, code, data]`);
      continue;
    }
    const [t, code, data] = ev as [unknown, unknown, unknown];
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) problems.push(`${where}: time must be a number >= 0`);
    else {
      if (t < last) problems.push(`${where}: time ${t} is before the previous event (${last})`);
      last = Math.max(last, t);
    }
    if (typeof code !== 'string') problems.push(`${where}: event code must be a string`);
    if (typeof data !== 'string') problems.push(`${where}: event data must be a string`);
    else if (code === 'r' && !RESIZE.test(data)) problems.push(`${where}: resize data must be COLSxROWS, got ${JSON.stringify(data)}`);
    events++;
  }
  if (events === 0) problems.push('the recording has no events (the server answers 422)');
  return problems;
}

function checkHeader(h: Record<string, unknown>, problems: string[]): void {
  if (h.version !== 2) problems.push(`header: version must be 2, got ${JSON.stringify(h.version)}`);
  intIn(h, 'width', 1, 720, problems);
  intIn(h, 'height', 1, 200, problems);
  if ('timestamp' in h && !Number.isInteger(h.timestamp)) problems.push('header: timestamp must be integer unix seconds');
  for (const k of ['duration', 'idle_time_limit'] as const) {
    if (k in h && (typeof h[k] !== 'number' || !((h[k] as number) >= 0))) problems.push(`header: ${k} must be a number >= 0`);
  }
  for (const k of ['command', 'title'] as const) if (k in h && typeof h[k] !== 'string') problems.push(`header: ${k} must be a string`);
  if ('env' in h) {
    if (!isObject(h.env)) problems.push('header: env must be an object');
    else {
      for (const [k, v] of Object.entries(h.env)) {
        if (!ENV_KEY.test(k)) problems.push(`header: env key ${JSON.stringify(k)} must match ^[A-Z0-9_]+$`);
        if (typeof v !== 'string') problems.push(`header: env.${k} must be a string (null is refused)`);
      }
    }
  }
  if ('theme' in h) {
    const th = h.theme;
    if (!isObject(th)) problems.push('header: theme must be an object');
    else {
      for (const k of ['fg', 'bg'] as const) {
        if (!(k in th)) problems.push(`header: theme.${k} is required when theme is present`);
        else if (typeof th[k] !== 'string' || !COLOUR.test(th[k] as string)) problems.push(`header: theme.${k} must be lowercase #rrggbb`);
      }
      if (!('palette' in th)) problems.push('header: theme.palette is required when theme is present');
      else {
        const parts = typeof th.palette === 'string' ? th.palette.split(':') : [];
        if (![8, 16].includes(parts.length) || !parts.every((c) => COLOUR.test(c))) {
          problems.push('header: theme.palette must be 8 or 16 lowercase #rrggbb colours separated by ":"');
        }
      }
    }
  }
}

function intIn(h: Record<string, unknown>, key: string, min: number, max: number, problems: string[]): void {
  const v = h[key];
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
    problems.push(`header: ${key} must be an integer ${min}..${max}, got ${JSON.stringify(v)}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function compression(text: string | Uint8Array): string | undefined {
  const b = typeof text === 'string' ? Buffer.from(text.slice(0, 4), 'latin1') : text;
  if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  // Bytes read as UTF-8 text lose the magic's high bytes to U+FFFD; the low ones still tell.
  if (typeof text === 'string' && (text.startsWith('\x1f\ufffd') || /^\(\ufffd\/\ufffd/.test(text))) {
    return text.startsWith('\x1f') ? 'gzip' : 'zstd';
  }
  return undefined;
}
