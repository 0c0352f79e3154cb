import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The GitHub App settings (`github.app`): the App's id, its private key file and, optionally,
 * the installation id. The key is read once here, while the configuration loads, so a missing
 * or unusable file is a configuration error naming its variable, never a failure at the first
 * login. The key text is never part of a message.
 */

/** Reads a PEM file and returns the RSA private key in it as PKCS#8 PEM, or why it cannot be used. */
export function readAppPrivateKey(file: string): { pem: string } | { problem: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { problem: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}` };
  }
  let key;
  try {
    key = createPrivateKey(text);
  } catch {
    // The parser's own message is not shown: it may quote the start of the file.
    return { problem: `${file} is not a PEM private key (GitHub's "Generate a private key" downloads one)` };
  }
  if (key.asymmetricKeyType !== 'rsa') {
    return { problem: `${file} holds a ${key.asymmetricKeyType ?? 'unknown'} key; a GitHub App key is RSA` };
  }
  // GitHub hands out PKCS#1 ("BEGIN RSA PRIVATE KEY"); the JWT signer takes PKCS#8, so convert once here.
  return { pem: key.export({ type: 'pkcs8', format: 'pem' }) as string };
}

const privateKeyFile = z
  .string({ error: 'required' })
  .min(1, 'required')
  .transform((file, ctx) => {
    const read = readAppPrivateKey(file);
    if ('problem' in read) {
      ctx.addIssue({ code: 'custom', message: read.problem });
      return z.NEVER;
    }
    return { file, pem: read.pem };
  });

/** The `github.app` section; its output carries the key as `privateKey` (PKCS#8 PEM). */
export const gitHubAppSchema = z
  .strictObject({
    id: z.number({ error: 'required' }).int().min(1, 'must be the App id, a positive number'),
    privateKeyFile,
    installationId: z.number().int().min(1, 'must be a positive number').optional(),
  })
  .transform(({ privateKeyFile: key, ...app }) => ({ ...app, privateKeyFile: key.file, privateKey: key.pem }));

/**
 * The rule "exactly one of a token or an App", on the unvalidated input: both or neither is
 * one problem that names both settings, so the operator sees the choice, not half of it.
 */
export function gitHubAuthChoiceProblems(token: string | undefined, app: unknown): string[] {
  const hasApp = app !== undefined && app !== null;
  if (token && hasApp) {
    return ['GITHUB_TOKEN (github.token) and TEAMSSH_GITHUB_APP_ID (github.app): both set: configure exactly one, a token or a GitHub App'];
  }
  if (!token && !hasApp) {
    return ['GITHUB_TOKEN (github.token) or TEAMSSH_GITHUB_APP_ID with TEAMSSH_GITHUB_APP_PRIVATE_KEY_FILE (github.app): required: configure a token or a GitHub App'];
  }
  return [];
}
