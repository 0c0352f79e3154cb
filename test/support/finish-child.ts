import { loadSigningKey } from '../../src/recording/signing-key.js';
import { FILE_CALLS } from '../../src/recording/file-calls.js';
import { Recorder } from '../../src/recording/recorder.js';
import type { SessionOutcome } from '../../src/recording/sidecar.js';
import { killAtRename } from './kill-at-rename.js';
import { sessionFacts } from './recordings.js';

/**
 * Records one short signed session and finishes it, dying (SIGKILL) at the first rename whose
 * source name matches the given pattern, for tests of each crash window of `Recorder.create`
 * (the early sidecar) and `Recorder.finish`.
 * Usage: node dist/test/support/finish-child.js DIR NAME KEYFILE PATTERN OUTCOME_JSON [direct|threaded]
 * (how the recorder makes its small file calls; default: as the filesystem says). Exits 0 when
 * the finish completed without meeting the pattern.
 */
const [dir, name, keyFile, pattern, outcome, way] = process.argv.slice(2) as [string, string, string, string, string, 'direct' | 'threaded' | undefined];
if (!outcome) throw new Error('usage: finish-child.js DIR NAME KEYFILE PATTERN OUTCOME_JSON');
const key = await loadSigningKey(keyFile);
// Armed before the start: a pattern may cut the early sidecar's write in Recorder.create too.
killAtRename(new RegExp(pattern));
const rec = await Recorder.create({
  dir, name, width: 80, height: 24, timestamp: 1_800_000_000, title: 't', env: {}, recordInput: false,
  meta: sessionFacts({ sessionId: `s-${name}`, login: 'kim' }), signing: { key }, ...(way ? { fileCalls: FILE_CALLS[way] } : {}),
});
rec.output(Buffer.from('the whole session\r\n'));
await rec.finish(JSON.parse(outcome) as SessionOutcome);
