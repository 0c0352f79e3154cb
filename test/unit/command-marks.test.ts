import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Osc133Parser, type ShellMark } from '../../src/recording/osc133.js';
import { RecordedContent } from '../../src/recording/recorded-content.js';
import { BUILTIN_RULES } from '../../src/recording/redact-rules.js';

const TOKEN = ['ghp', '_', 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'].join('');
const osc = (body: string, st = '\x07') => `\x1b]133;${body}${st}`;

/** One prompt, command and result as bash with handlers/osc133.bash prints them. */
function session(cmdline: string | null, typed: string, output: string, status: number): string {
  const c = cmdline === null ? osc('C') : osc(`C;cmdline_url=${cmdline}`);
  return `${osc('A')}user@host:~$ ${osc('B')}${typed}\r\n${c}${output}${osc(`D;${status}`, '\x1b\\')}`;
}

test('A/B/C/D marks are found across every split point; the command line comes from cmdline_url, percent-decoded', () => {
  const text = session('printf %25s%0Ahi', 'printf ...', 'x\r\n', 3) + session('false', 'false', '', 1);
  for (let i = 0; i <= text.length; i++) {
    const p = new Osc133Parser();
    const marks: ShellMark[] = [...p.feed(text.slice(0, i)), ...p.feed(text.slice(i))];
    assert.deepEqual(
      marks,
      [
        { kind: 'command', command: 'printf %s\nhi' },
        { kind: 'finished', exitStatus: 3 },
        { kind: 'command', command: 'false' },
        { kind: 'finished', exitStatus: 1 },
      ],
      `split at ${i}`,
    );
  }
});

test('without a command line in C, the echoed input between B and C is used, with backspaces applied', () => {
  const p = new Osc133Parser();
  const marks = p.feed(session(null, 'lx\b \bs -l\x1b[K', '', 0));
  assert.deepEqual(marks[0], { kind: 'command', command: 'ls -l' });
  assert.deepEqual(new Osc133Parser().feed(`${osc('C;cmdline=make test')}`), [{ kind: 'command', command: 'make test' }]);
  assert.deepEqual(new Osc133Parser().feed(osc('D')), [{ kind: 'finished', exitStatus: null }]);
});

test('markers and the command list: labelled with the redacted command line, never with the secret, even percent-encoded', () => {
  const events: Array<[string, string, number]> = [];
  const c = new RecordedContent(BUILTIN_RULES, (code, data, at) => {
    events.push([code, data.toString(), at]);
    return at / 1000;
  });
  // The encoded form hides the token from the scan of the output; the label is redacted again after decoding.
  const encoded = TOKEN.replace('_', '%5F');
  c.output(Buffer.from(session('echo hi', 'echo hi', 'hi\r\n', 0)), 1000);
  c.output(Buffer.from(session(`export T=${encoded}`, 'export T=…', '', 0)), 2000);
  c.output(Buffer.from(session(`curl -H "Authorization: ${TOKEN}" x`, 'curl …', 'ok', 7)), 3000);
  c.end(4000);
  const markers = events.filter((e) => e[0] === 'm');
  assert.deepEqual(markers.map((m) => m[1]), ['echo hi', `export T=${'*'.repeat(TOKEN.length)}`, `curl -H "Authorization: ${'*'.repeat(TOKEN.length)}" x`]);
  assert.deepEqual(markers.map((m) => m[2]), [1000, 2000, 3000]);
  const recorded = events.map((e) => e[1]).join('');
  assert.ok(!recorded.includes(TOKEN), 'the token is nowhere in the recorded events');
  const facts = c.facts();
  assert.deepEqual(facts.commands, [
    { at: 1, command: 'echo hi', endedAt: 1, exitStatus: 0 },
    { at: 2, command: `export T=${'*'.repeat(TOKEN.length)}`, endedAt: 2, exitStatus: 0 },
    { at: 3, command: `curl -H "Authorization: ${'*'.repeat(TOKEN.length)}" x`, endedAt: 3, exitStatus: 7 },
  ]);
  assert.equal(facts.redactions?.['github-token'], 1, 'the raw token in the third command line was counted');
});

test('with redaction off, markers are still written and nothing is counted', () => {
  const events: string[] = [];
  const c = new RecordedContent(null, (code, data) => {
    events.push(`${code}:${data}`);
    return 0;
  });
  c.output(Buffer.from(session('ls', 'ls', 'a b\r\n', 0)), 0);
  c.end(0);
  assert.ok(events.includes('m:ls'));
  assert.equal(c.facts().redactions, undefined);
});
