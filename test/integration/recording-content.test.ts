import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startHarness, spawnSsh, type Harness } from '../support/teamssh.js';
import { asciinemaCat } from '../support/asciinema-cat.js';

/*
 * What goes into a recording besides the output itself, end to end with the real ssh client
 * in a real pty: secrets redacted (the client still sees them), input typed at echo-off
 * prompts (read -s, a real sudo) never recorded, OSC 133 command marks as "m" markers.
 */

// Built at run time, so the test's own source holds no whole token.
const TOKEN = ['ghp', '_', 'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2'].join('');
const STARS = '*'.repeat(TOKEN.length);

let h: Harness;
let snippet: string;
before(async () => {
  h = await startHarness({
    env: { TEAMSSH_RECORD_INPUT: 'true' },
    setup: async (_gh, dir) => {
      const patterns = path.join(dir, 'redact-patterns');
      await writeFile(patterns, '# test patterns\ninternal-password = (?<=pw=)[a-z]+-[0-9]+\n');
      // The session account must read the snippet: a copy in the harness directory (0755).
      snippet = path.join(dir, 'osc133.bash');
      await copyFile(new URL('../../../handlers/osc133.bash', import.meta.url), snippet);
      await chmod(snippet, 0o644);
      return { TEAMSSH_REDACT_PATTERNS: patterns };
    },
  });
});
after(() => h?.close());

interface Recording {
  file: string;
  events: Array<[number, string, string]>;
  header: Record<string, unknown>;
  sidecar: Record<string, unknown>;
}

async function recordingOf(end: Record<string, unknown>): Promise<Recording> {
  const file = String(end.recording);
  const [head, ...rest] = (await readFile(file, 'utf8')).trimEnd().split('\n');
  const sidecar = JSON.parse(await readFile(file.replace(/\.cast$/, '.json'), 'utf8')) as Record<string, unknown>;
  return { file, header: JSON.parse(head!) as Record<string, unknown>, events: rest.map((l) => JSON.parse(l) as [number, string, string]), sidecar };
}

/** Matches output that shows the n-th prompt of a shell with the marks (its B mark). */
function prompts(n: number): RegExp {
  return new RegExp(`(?:\x1b\\]133;B\x07[\\s\\S]*){${n}}$`);
}

/** Drives an interactive `ssh -tt`: each step waits for its prompt in the output, then types. */
async function interact(args: string[], steps: Array<[RegExp, string]>): Promise<string> {
  const child = spawnSsh(h.port, 'alice', h.alice, ['-tt', ...args]);
  let out = '';
  let step = 0;
  const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
  child.stderr.resume();
  const advance = () => {
    while (step < steps.length && steps[step]![0].test(out)) child.stdin.write(steps[step++]![1]);
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    advance();
  });
  advance();
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await done;
  clearTimeout(timer);
  assert.equal(step, steps.length, `every prompt appeared; output was ${JSON.stringify(out)}`);
  return out;
}

test('secrets are redacted in the recording, its header and sidecar, while the client sees them; counts per rule', async () => {
  const script = `printf 'token=%s%s\\n' ghp_ ${TOKEN.slice(4)}; printf 'pw=%s\\n' hunter-42; printf 'AKIA%s\\n' IOSFODNN7EXAMPLE; : ${TOKEN}`;
  const child = spawnSsh(h.port, 'alice', h.alice, ['-tt', script]);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  await new Promise((r) => child.on('close', r));
  assert.match(out, new RegExp(`token=${TOKEN}\\r\\npw=hunter-42\\r\\nAKIAIOSFODNN7EXAMPLE`), 'the client sees its output unchanged');
  const end = await h.log.waitFor('session_end', (l) => String(l.command).includes('hunter'));
  assert.deepEqual(end.redactions, { 'github-token': 1, 'aws-access-key-id': 1, 'private-key': 0, 'internal-password': 1 }, 'counted per rule in the audit log');
  assert.ok(!String(end.command).includes(TOKEN), 'the audit log shows the command redacted');
  const rec = await recordingOf(end);
  const text = await readFile(rec.file, 'utf8');
  for (const secret of [TOKEN, 'AKIAIOSFODNN7EXAMPLE']) assert.ok(!text.includes(secret), `${secret.slice(0, 4)}… is not in the cast`);
  const output = rec.events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
  assert.match(output, /pw=\*{9}\r\n/, 'the operator pattern replaced the password in the output');
  assert.equal(String(rec.header.command), script.replace(TOKEN, STARS), 'the header command is redacted');
  assert.deepEqual(rec.sidecar.redactions, end.redactions);
  const printed = (await asciinemaCat(rec.file)).toString('utf8');
  assert.equal(printed, out.replace(TOKEN, STARS).replace('hunter-42', '*********').replace('AKIAIOSFODNN7EXAMPLE', '*'.repeat(20)), 'asciinema cat replays the client output with asterisks in place');
});

test('input typed at echo-off prompts (read -s, a real sudo) is never recorded; input typed with echo on is', async () => {
  const script = `read -r line; echo "got[$line]"; read -rs -p 'secret: ' pw; echo; echo "len=\${#pw}"; sudo -k; sudo -p 'sudo-pw: ' true`;
  const out = await interact(
    [script],
    [
      [/^/, 'visible-typed-input\n'],
      [/secret: $/, 'hidden-read-input\n'],
      [/sudo-pw: $/, 'hidden-sudo-input\n'],
      [/Sorry, try again\.\r\nsudo-pw: $/, '\x03'],
    ],
  );
  assert.match(out, /got\[visible-typed-input\]/);
  assert.match(out, /len=17/);
  const end = await h.log.waitFor('session_end', (l) => String(l.command).includes('sudo-pw'));
  const rec = await recordingOf(end);
  const input = rec.events.filter((e) => e[1] === 'i').map((e) => e[2]).join('');
  assert.match(input, /visible-typed-input/, 'input typed while the terminal echoes is recorded');
  assert.doesNotMatch(input, /hidden-read-input/, 'read -s input is not recorded');
  assert.doesNotMatch(input, /hidden-sudo-input/, 'sudo password input is not recorded');
  assert.ok(!(await readFile(rec.file, 'utf8')).includes('hidden-'), 'nowhere in the recording');
});

test('OSC 133 marks from handlers/osc133.bash become "m" markers labelled with the redacted command line; the sidecar lists commands', async () => {
  const out = await interact(
    [`bash --rcfile ${snippet} -i`],
    ['echo hello-marks\n', 'false\n', `echo ${TOKEN} >/dev/null\n`, 'exit\n'].map((line, i) => [prompts(i + 1), line]),
  );
  assert.ok(out.includes(TOKEN), 'the client saw the token it typed');
  const end = await h.log.waitFor('session_end', (l) => String(l.command).includes('rcfile'));
  const rec = await recordingOf(end);
  const markers = rec.events.filter((e) => e[1] === 'm');
  assert.deepEqual(markers.map((m) => m[2]), ['echo hello-marks', 'false', `echo ${STARS} >/dev/null`, 'exit']);
  const commands = rec.sidecar.commands as Array<Record<string, unknown>>;
  assert.deepEqual(commands.map((c) => [c.command, c.exitStatus ?? null]), [['echo hello-marks', 0], ['false', 1], [`echo ${STARS} >/dev/null`, 0], ['exit', null]]);
  for (const [i, c] of commands.entries()) assert.equal(c.at, markers[i]![0], 'each command starts at its marker');
  assert.ok(!(await readFile(rec.file, 'utf8')).includes(TOKEN));
});
