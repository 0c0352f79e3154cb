import ssh2 from 'ssh2';
import { fingerprint } from '../../src/auth/verify.js';
import type { LiveSessionSource, RevocableSession, Revocation } from '../../src/revocation/types.js';

/** A stand-in live session: records its revocation and leaves the source, as a real session ends. */
export interface FakeSession extends RevocableSession {
  revoked: Revocation | undefined;
  revokedAt: number | undefined;
  revokeCalls: number;
}

/**
 * The live-session side of revocation for tests that need no SSH: sessions are added by
 * login, key and team, and disappear when revoked (a real session ends and unregisters).
 */
export class FakeSessions implements LiveSessionSource {
  readonly #live = new Map<string, FakeSession>();
  readonly ended: FakeSession[] = [];
  #next = 1;

  /** Adds a live session of `login` authenticated with `keyLine`, granted by `team`. */
  add(login: string, keyLine: string, team: string, teams: readonly string[] = [team]): FakeSession {
    const id = `s${this.#next++}`;
    const s: FakeSession = {
      id, login, team, teams, fingerprint: fingerprintOf(keyLine),
      revoked: undefined, revokedAt: undefined, revokeCalls: 0,
      revoke: (r) => {
        s.revokeCalls += 1;
        if (s.revoked) return;
        s.revoked = r;
        s.revokedAt = Date.now();
        this.#live.delete(id);
        this.ended.push(s);
      },
    };
    this.#live.set(id, s);
    return s;
  }

  byLogin(login: string): FakeSession[] {
    const l = login.toLowerCase();
    return [...this.#live.values()].filter((s) => s.login.toLowerCase() === l);
  }

  logins(): Iterable<string> {
    return new Set([...this.#live.values()].map((s) => s.login));
  }

  /** Sessions still live. */
  get live(): FakeSession[] {
    return [...this.#live.values()];
  }

  /** Resolves once `pred` holds, polling every 5 ms, or rejects after `ms`. */
  async until(pred: () => boolean, ms = 5_000): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** The `SHA256:` fingerprint of an OpenSSH public key line. */
export function fingerprintOf(keyLine: string): string {
  const k = ssh2.utils.parseKey(keyLine);
  if (k instanceof Error) throw k;
  return fingerprint((Array.isArray(k) ? k[0]! : k).getPublicSSH());
}

/** A fresh ed25519 public key line ("ssh-ed25519 AAAA..."). */
export function newKeyLine(): string {
  for (;;) {
    const line = ssh2.utils.generateKeyPairSync('ed25519').public.split(' ').slice(0, 2).join(' ');
    // ssh2 1.17 drops a leading zero byte of about one ed25519 key in 400 (a 31-byte key
    // that its own parser then refuses): draw again rather than flake.
    if (!(ssh2.utils.parseKey(line) instanceof Error)) return line;
  }
}
