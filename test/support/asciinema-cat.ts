import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pty from 'node-pty';

/** Where Debian's asciinema CLI lives (package `asciinema`, v2.2). */
export const ASCIINEMA = '/usr/bin/asciinema';

/** True when the real asciinema CLI is installed. */
export const hasAsciinema = existsSync(ASCIINEMA);

/**
 * `asciinema cat FILE` as an independent reader of our files. It opens /dev/tty (to put it in
 * raw mode), so it runs with a pty as controlling terminal while its stdout goes to a plain
 * file: the pty would otherwise rewrite "\n" as "\r\n" and we compare bytes exactly.
 */
export async function asciinemaCat(file: string): Promise<Buffer> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'teamssh-cat-home-'));
  try {
    const out = path.join(home, 'cat.out');
    const child = pty.spawn('/bin/sh', ['-c', 'exec "$0" cat "$1" > "$2" 2> "$2.err"', ASCIINEMA, file, out], {
      cols: 80,
      rows: 24,
      cwd: home,
      // HOME in a temp dir: asciinema writes its config and install id there, not into /root.
      env: { HOME: home, PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', PYTHONIOENCODING: 'utf-8' },
    });
    const code = await new Promise<number>((resolve) => child.onExit(({ exitCode }) => resolve(exitCode)));
    assert.equal(code, 0, `asciinema cat failed: ${await readFile(`${out}.err`, 'utf8').catch(() => '?')}`);
    return await readFile(out);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
