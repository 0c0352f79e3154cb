import { readFileSync } from 'node:fs';
import { BUILTIN_RULES, type NamedPattern } from './redact-rules.js';

/*
 * The operator's file of extra redaction patterns (TEAMSSH_REDACT_PATTERNS). One pattern a
 * line, `NAME = REGEX`; blank lines and lines starting with `#` are skipped. REGEX is a
 * JavaScript regular expression compiled with the `u` flag, taken up to the end of the line
 * (trailing whitespace dropped: write `\x20` for a trailing space). NAME is what the sidecar
 * and the audit log count matches under, so it must be unique and never the secret itself.
 */

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Parses the text of a patterns file; every bad line is one problem naming its line and pattern. */
export function parseRedactPatterns(text: string): { patterns: NamedPattern[]; problems: string[] } {
  const patterns: NamedPattern[] = [];
  const problems: string[] = [];
  const taken = new Set(BUILTIN_RULES.map((r) => r.name));
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `line ${i + 1}`;
    const eq = line.indexOf('=');
    const name = eq < 0 ? '' : line.slice(0, eq).trim();
    const source = eq < 0 ? '' : line.slice(eq + 1).trim();
    if (!NAME.test(name) || source === '') {
      problems.push(`${where}: must be NAME = REGEX (NAME: letters, digits, . _ -)`);
      return;
    }
    if (taken.has(name)) {
      problems.push(`${where}: pattern "${name}" is named twice (or takes a built-in rule's name)`);
      return;
    }
    taken.add(name);
    let re: RegExp;
    try {
      re = new RegExp(source, 'gu');
    } catch (err) {
      problems.push(`${where}: pattern "${name}" is not a valid regular expression: ${(err as Error).message}`);
      return;
    }
    // An empty match would redact nothing and stall the scan.
    if (re.test('')) problems.push(`${where}: pattern "${name}" matches the empty string`);
    else patterns.push({ name, source });
  });
  return { patterns, problems };
}

/** Reads and parses a patterns file; a file that cannot be read is one problem. */
export function loadRedactPatterns(file: string): { patterns: NamedPattern[]; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { patterns: [], problems: [`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`] };
  }
  const { patterns, problems } = parseRedactPatterns(text);
  return { patterns, problems: problems.map((p) => `${file} ${p}`) };
}
