import { readFile } from 'node:fs/promises';
import { TeamsshError } from '../errors.js';
import { allowedSignersLine, loadSigningKey, trustedKeysIn } from './signing-key.js';
import { verifyRecording } from './verify-recording.js';

/**
 * The `teamssh signing-key` and `teamssh verify` commands, apart from argument parsing (cli.ts),
 * so tests can call them and the CLI stays a list of commands.
 */

/** `teamssh signing-key`: the public key line, or the allowed_signers line (generates the key if missing). */
export async function signingKeyCommand(file: string, allowedSigners: boolean): Promise<string> {
  const key = await loadSigningKey(file);
  return allowedSigners ? allowedSignersLine(key.publicBlob) : key.publicLine;
}

/**
 * `teamssh verify`: one line per file, `FILE: ok (...)` or `FILE: problem; problem`. Trusts the
 * keys in a .pub/allowed_signers file, or the configured signing key (never generated here:
 * a fresh key would trust nothing the server signed). Returns false when any file fails.
 */
export async function verifyCommand(files: readonly string[], trust: string | { privateKey: string }, print: (line: string) => void): Promise<boolean> {
  let trusted: Buffer[];
  if (typeof trust === 'string') {
    trusted = trustedKeysIn(await readFile(trust, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new TeamsshError('ERR_SIGNING_KEY', `cannot read ${trust}: ${err.code ?? String(err)}`, { cause: err });
    }));
    if (trusted.length === 0) throw new TeamsshError('ERR_SIGNING_KEY', `${trust} names no ssh-ed25519 public key`);
  } else {
    trusted = [(await loadSigningKey(trust.privateKey, { create: false })).publicBlob];
  }
  let allOk = true;
  for (const file of files) {
    try {
      const v = await verifyRecording(file, trusted);
      allOk &&= v.ok;
      print(`${file}: ${v.line}`);
    } catch (err) {
      allOk = false;
      const e = err as NodeJS.ErrnoException;
      print(`${file}: cannot read (${e.code ?? e.message})`);
    }
  }
  return allOk;
}
