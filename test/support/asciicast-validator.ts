/**
 * The asciinema server's acceptance rules for an asciicast v2 upload, as docs/external-systems.md §3 states
 * them. Every test that produces a recording should assert `validateAsciicast(text)` is empty:
 * a file this rejects would be refused with 422 and never reach the security reviewers.
 */

import { validateAsciicast as fieldErrors } from '../fakes/asciicast-validate.js';

/** Lists every rule of docs/external-systems.md §3 the recording breaks (empty = the server would accept it); accepts text or raw bytes. */
export function validateAsciicast(text: string | Uint8Array): string[] {
  // One rule set, shared with the fake server: here only the shape of the answer differs.
  const body = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  return fieldErrors(body).map((e) => `${e.field}: ${e.message}`);
}
