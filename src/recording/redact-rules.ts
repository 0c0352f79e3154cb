/*
 * What the recording redactor looks for. Each rule is a regular expression over the visible
 * text (src/recording/visible-text.ts) plus what the streaming redactor needs to find a match
 * that is split between reads: how an unfinished match can end the text so far (`partial`),
 * or, for operator patterns whose shape is unknown, how many characters to hold back.
 */

/** One thing to redact; the regexes are templates, compiled again per session (a RegExp is stateful). */
export interface RedactRule {
  /** Counted under this name in the sidecar and the audit log. */
  name: string;
  /** Global; a named group `s`, when present, is the part replaced (a key block keeps its BEGIN/END lines). */
  re: RegExp;
  /** Anchored at the end: matches where an unfinished match of `re` may have begun; only the last `window` characters are searched. */
  partial?: RegExp;
  window?: number;
  /** The start of a long match (a key block's BEGIN line): once seen, everything from it waits for the whole match. */
  opener?: RegExp;
  /** Without `partial`: matches starting within this many characters of the end may still grow, so they wait. */
  hold: number;
  /**
   * A cheap test on raw bytes: a read holding none of `contains`, and no `tail` character among
   * its last `within` bytes, can neither hold a match nor the start of one, and skips the scan.
   */
  quick?: { contains: string[]; tail: string; within: number };
  /** When held text must be written unfinished (quiet time, session end, hold-back cap): what of it is replaced anyway. */
  fallback?: RegExp;
}

/** Longest match an operator pattern is guaranteed to be found in across reads (characters). */
export const OPERATOR_HOLD = 256;

/** Longest private key block recognised whole: an RSA 16384-bit key in PEM is about 12.6 KiB. */
export const KEY_BLOCK_MAX = 16 * 1024;

/** `a(?:b(?:c)?)?`: matches any non-empty prefix of the atoms in order. */
function prefixes(atoms: string[]): string {
  return atoms.reduceRight((inner, atom, i) => (i === 0 ? `${atom}${inner}` : `(?:${atom}${inner})?`), '');
}

const TOKEN_BODY = '[A-Za-z0-9]';
const PAT_BODY = '[A-Za-z0-9_]';
const KEY_LINE = '-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----';
const KEY_END = '-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----';

/**
 * The built-in rules, on unless redaction is off. GitHub's token prefixes are documented
 * (ghp_ classic, gho_ OAuth, ghu_ user-to-server, ghs_ server-to-server, ghr_ refresh,
 * github_pat_ fine-grained); lengths are kept loose since GitHub may lengthen them.
 */
export const BUILTIN_RULES: readonly RedactRule[] = [
  {
    name: 'github-token',
    re: new RegExp(`gh[pousr]_${TOKEN_BODY}{36,251}|github_pat_${PAT_BODY}{22,251}`, 'g'),
    partial: new RegExp(
      `(?:${prefixes(['g', 'h', '[pousr]', '_', `${TOKEN_BODY}{0,251}`])}|${prefixes(['gi', 't', 'h', 'u', 'b', '_', 'p', 'a', 't', '_', `${PAT_BODY}{0,251}`])})$`,
      'g',
    ),
    window: 12 + 251,
    quick: { contains: ['gh', 'github_pat_'], tail: 'g', within: 11 },
    hold: 0,
    fallback: new RegExp(`(?:gh[pousr]_${TOKEN_BODY}{8,}|github_pat_${PAT_BODY}{8,})$`, 'g'),
  },
  {
    name: 'aws-access-key-id',
    re: /(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])/g,
    partial: new RegExp(`(?<![A-Z0-9])${prefixes(['A', '[KS]', 'I', 'A', '[A-Z0-9]{0,16}'])}$`, 'g'),
    window: 20,
    quick: { contains: ['AKIA', 'ASIA'], tail: 'A', within: 4 },
    hold: 0,
    fallback: /(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{8,}$/g,
  },
  {
    name: 'private-key',
    re: new RegExp(`${KEY_LINE}(?<s>[\\s\\S]{0,${KEY_BLOCK_MAX}}?)${KEY_END}`, 'g'),
    // A BEGIN line whose END has not come yet, or the start of a BEGIN line at the end.
    opener: new RegExp(KEY_LINE, 'g'),
    partial: new RegExp(`${prefixes(['-{1,5}', 'B', 'E', 'G', 'I', 'N[A-Z0-9 -]{0,60}'])}$`, 'g'),
    window: 80,
    quick: { contains: ['-----BEGIN'], tail: '-', within: 10 },
    hold: 0,
    // An unfinished block: everything after the BEGIN line that can be part of a PEM body.
    fallback: new RegExp(`${KEY_LINE}(?<s>[A-Za-z0-9+/=\\s\\\\:,-]*)`, 'g'),
  },
];

/** An operator pattern: a name and the source of a regular expression (compiled with the `u` flag). */
export interface NamedPattern {
  name: string;
  source: string;
}

/** Turns operator patterns into rules; they were validated when the configuration was loaded. */
export function operatorRules(patterns: readonly NamedPattern[]): RedactRule[] {
  return patterns.map((p) => ({ name: p.name, re: new RegExp(p.source, 'gu'), hold: OPERATOR_HOLD }));
}

/** The rules a session's recording applies: none when redaction is off, else the built-ins and the operator's patterns. */
export function recordingRules(settings: { redact: boolean; redactPatterns: readonly NamedPattern[] }): RedactRule[] | null {
  return settings.redact ? [...BUILTIN_RULES, ...operatorRules(settings.redactPatterns)] : null;
}

/** A fresh copy of each rule's regexes (lastIndex is per scan, so sessions must not share them), with match indices on. */
export function compileRules(rules: readonly RedactRule[]): RedactRule[] {
  const copy = (r: RegExp | undefined) => (r ? new RegExp(r.source, r.flags.includes('d') ? r.flags : `${r.flags}d`) : undefined);
  return rules.map((r) => ({
    ...r,
    re: copy(r.re)!,
    ...(r.partial ? { partial: copy(r.partial)! } : {}),
    ...(r.opener ? { opener: copy(r.opener)! } : {}),
    ...(r.fallback ? { fallback: copy(r.fallback)! } : {}),
  }));
}
