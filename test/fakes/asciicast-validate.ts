/**
 * The asciicast v2 checks an asciinema server makes on upload (docs/external-systems.md §3), for the fake
 * server and for tests that check files on their own. Returns field errors like the server's
 * 422 `details`; an empty list means the recording would be accepted. This is the one copy of
 * the rules: test/support/asciicast-validator.ts only formats these errors as strings.
 *
 * Where docs/external-systems.md §3 is silent, asciinema-server's own source decides (lib/asciinema/recordings.ex,
 * `apply_metadata`, and recordings/asciicast/v2.ex): a null optional header field counts as absent,
 * the palette is 8 or 16 colours, an event is exactly three elements.
 */

/** One validation problem, shaped like the server's `details` entries. */
export interface FieldError {
  field: string;
  message: string;
}

const COLOR = /^#[0-9a-f]{6}$/;
const ENV_KEY = /^[A-Z0-9_]+$/;
const RESIZE = /^\d+x\d+$/;

/** Validates an uploaded asciicast; `[]` when the server would accept it. */
export function validateAsciicast(body: Buffer): FieldError[] {
  const text = body.toString('utf8');
  const packed = compression(body, text);
  if (packed) return [{ field: 'file', message: `${packed}-compressed files are not supported; the server wants plain text` }];
  const nl = text.indexOf('\n');
  const first = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
  if (!first.startsWith('{')) return [{ field: 'file', message: 'line 1: the header must be a JSON object starting with "{"' }];
  let header: unknown;
  try {
    header = JSON.parse(first);
  } catch (err) {
    return [{ field: 'file', message: `line 1: header is not valid JSON (${(err as Error).message})` }];
  }
  if (!isObject(header)) return [{ field: 'file', message: 'line 1: the header must be a JSON object' }];
  // The server reads other versions with other readers (v1, v3): none of the rules below apply.
  if (header.version !== 2) return [{ field: 'version', message: `asciicast version must be 2, got ${JSON.stringify(header.version)}` }];
  return [...headerErrors(header), ...eventErrors(nl < 0 ? '' : text.slice(nl + 1))];
}

function headerErrors(h: Record<string, unknown>): FieldError[] {
  const out: FieldError[] = [];
  // The server's field names (term_cols, term_rows) in `field`, the header's keys in the message.
  if (!intIn(h.width, 1, 720)) out.push({ field: 'cols', message: `width must be an integer 1..720, got ${JSON.stringify(h.width)}` });
  if (!intIn(h.height, 1, 200)) out.push({ field: 'rows', message: `height must be an integer 1..200, got ${JSON.stringify(h.height)}` });
  if (present(h.timestamp) && !Number.isInteger(h.timestamp)) out.push({ field: 'timestamp', message: 'timestamp must be integer unix seconds' });
  if (present(h.duration) && typeof h.duration !== 'number') out.push({ field: 'duration', message: 'duration must be a number' });
  // Servers want idle_time_limit > 0, some releases >= 0.5 (docs/external-systems.md §3); looser here: teamssh never writes it.
  if (present(h.idle_time_limit) && !(typeof h.idle_time_limit === 'number' && h.idle_time_limit >= 0)) {
    out.push({ field: 'idle_time_limit', message: 'idle_time_limit must be a number >= 0' });
  }
  for (const k of ['title', 'command'] as const) {
    if (present(h[k]) && typeof h[k] !== 'string') out.push({ field: k, message: `${k} must be a string` });
  }
  if (present(h.env)) {
    if (!isObject(h.env)) out.push({ field: 'env', message: 'env must be an object' });
    else {
      for (const [k, v] of Object.entries(h.env)) {
        if (!ENV_KEY.test(k)) out.push({ field: 'env', message: `env key ${JSON.stringify(k)} must match ^[A-Z0-9_]+$` });
        if (typeof v !== 'string') out.push({ field: 'env', message: `env.${k} must be a string (null is refused)` });
      }
    }
  }
  if (present(h.theme)) out.push(...themeErrors(h.theme));
  return out;
}

function themeErrors(t: unknown): FieldError[] {
  if (!isObject(t)) return [{ field: 'theme', message: 'theme must be an object' }];
  const out: string[] = [];
  for (const k of ['fg', 'bg'] as const) {
    if (!present(t[k])) out.push(`theme.${k} is required when theme is present`);
    else if (typeof t[k] !== 'string' || !COLOR.test(t[k])) out.push(`theme.${k} must be lowercase #rrggbb`);
  }
  if (!present(t.palette)) out.push('theme.palette is required when theme is present');
  else {
    // asciinema-server's @hex_palette_re: exactly 8 or 16 colours.
    const parts = typeof t.palette === 'string' ? t.palette.split(':') : [];
    if (![8, 16].includes(parts.length) || !parts.every((c) => COLOR.test(c))) {
      out.push('theme.palette must be 8 or 16 lowercase #rrggbb colours separated by ":"');
    }
  }
  return out.map((message) => ({ field: 'theme', message }));
}

function eventErrors(rest: string): FieldError[] {
  const out: FieldError[] = [];
  const bad = (message: string) => out.push({ field: 'events', message });
  let last = 0;
  let count = 0;
  const lines = rest.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const where = `line ${i + 2}`;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      bad(`${where}: not valid JSON`);
      continue;
    }
    // The server destructures exactly [time, code, data].
    if (!Array.isArray(e) || e.length !== 3) {
      bad(`${where}: an event must be a JSON array [time, code, data]`);
      continue;
    }
    const [t, code, data] = e as [unknown, unknown, unknown];
    if (typeof t !== 'number' || !(t >= 0)) bad(`${where}: time must be a number >= 0`);
    else {
      if (t < last) bad(`${where}: time ${t} is before the previous event (${last})`);
      last = Math.max(last, t);
    }
    if (typeof code !== 'string') bad(`${where}: event code must be a string`);
    if (typeof data !== 'string') bad(`${where}: event data must be a string`);
    else if (code === 'r' && !RESIZE.test(data)) bad(`${where}: resize data must be COLSxROWS, got ${JSON.stringify(data)}`);
    count++;
  }
  if (count === 0) bad('the recording has no events');
  return out;
}

function compression(body: Buffer, text: string): string | undefined {
  if (body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b) return 'gzip';
  if (body.length >= 4 && body.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
  // Bytes that went through a UTF-8 decode (a test's string) keep only the magic's low bytes.
  if (text.startsWith('\x1f\ufffd')) return 'gzip';
  if (/^\(\ufffd\/\ufffd/.test(text)) return 'zstd';
  return undefined;
}

function intIn(v: unknown, lo: number, hi: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

// The server treats a JSON null like a missing key (Jason gives nil, the changeset casts nil).
function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
