/**
 * The asciicast v2 checks an asciinema server makes on upload (contracts.md §3), for the fake
 * server and for tests that check files on their own. Returns field errors like the server's
 * 422 `details`; an empty list means the recording would be accepted.
 */

/** One validation problem, shaped like the server's `details` entries. */
export interface FieldError {
  field: string;
  message: string;
}

const COLOR = /^#[0-9a-f]{6}$/;

/** Validates an uploaded asciicast; `[]` when the server would accept it. */
export function validateAsciicast(body: Buffer): FieldError[] {
  if (body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b) return [{ field: 'file', message: 'gzip-compressed files are not supported' }];
  if (body.length >= 4 && body.readUInt32BE(0) === 0x28b52ffd) return [{ field: 'file', message: 'zstd-compressed files are not supported' }];
  const text = body.toString('utf8');
  const nl = text.indexOf('\n');
  const first = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
  if (!first.startsWith('{')) return [{ field: 'file', message: 'not an asciicast file' }];
  let header: Record<string, unknown>;
  try {
    const h = JSON.parse(first) as unknown;
    if (!h || typeof h !== 'object' || Array.isArray(h)) throw new Error('not an object');
    header = h as Record<string, unknown>;
  } catch {
    return [{ field: 'file', message: 'not an asciicast file: the header is not JSON' }];
  }
  if (header.version !== 2) return [{ field: 'version', message: `unsupported asciicast version ${JSON.stringify(header.version)}` }];
  const errors: FieldError[] = [...headerErrors(header)];
  const rest = nl < 0 ? '' : text.slice(nl + 1);
  errors.push(...eventErrors(rest));
  return errors;
}

function intIn(v: unknown, lo: number, hi: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

function headerErrors(h: Record<string, unknown>): FieldError[] {
  const out: FieldError[] = [];
  if (!intIn(h.width, 1, 720)) out.push({ field: 'cols', message: 'must be an integer between 1 and 720' });
  if (!intIn(h.height, 1, 200)) out.push({ field: 'rows', message: 'must be an integer between 1 and 200' });
  if (h.timestamp !== undefined && !(typeof h.timestamp === 'number' && Number.isInteger(h.timestamp))) out.push({ field: 'timestamp', message: 'must be an integer' });
  for (const k of ['duration', 'idle_time_limit'] as const) {
    if (h[k] !== undefined && h[k] !== null && typeof h[k] !== 'number') out.push({ field: k, message: 'must be a number' });
  }
  for (const k of ['title', 'command'] as const) {
    if (h[k] !== undefined && h[k] !== null && typeof h[k] !== 'string') out.push({ field: k, message: 'must be a string' });
  }
  if (h.env !== undefined && h.env !== null) {
    if (typeof h.env !== 'object' || Array.isArray(h.env)) out.push({ field: 'env', message: 'must be an object' });
    else {
      for (const [k, v] of Object.entries(h.env)) {
        if (!/^[A-Z0-9_]+$/.test(k)) out.push({ field: 'env', message: `invalid variable name ${JSON.stringify(k)}` });
        if (typeof v !== 'string') out.push({ field: 'env', message: `value of ${k} must be a string` });
      }
    }
  }
  if (h.theme !== undefined && h.theme !== null) {
    const t = h.theme as Record<string, unknown>;
    const ok =
      typeof t === 'object' && typeof t.fg === 'string' && COLOR.test(t.fg) && typeof t.bg === 'string' && COLOR.test(t.bg) &&
      typeof t.palette === 'string' && t.palette.split(':').every((c) => COLOR.test(c));
    if (!ok) out.push({ field: 'theme', message: 'fg, bg and palette are required, as lowercase #rrggbb colors' });
  }
  return out;
}

function eventErrors(rest: string): FieldError[] {
  let last = 0;
  let count = 0;
  let lineNo = 1;
  for (const raw of rest.split('\n')) {
    lineNo++;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      return [{ field: 'events', message: `line ${lineNo} is not JSON` }];
    }
    if (!Array.isArray(e) || e.length < 3 || typeof e[0] !== 'number' || e[0] < 0 || typeof e[1] !== 'string' || typeof e[2] !== 'string') {
      return [{ field: 'events', message: `line ${lineNo} is not an event [time, code, data]` }];
    }
    if (e[0] < last) return [{ field: 'events', message: `line ${lineNo}: time goes backwards` }];
    if (e[1] === 'r' && !/^\d+x\d+$/.test(e[2])) return [{ field: 'events', message: `line ${lineNo}: resize data must be COLSxROWS` }];
    last = e[0];
    count++;
  }
  if (count === 0) return [{ field: 'events', message: 'the recording has no events' }];
  return [];
}
