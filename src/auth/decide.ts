import ssh2 from 'ssh2';
import type { MemberRecord } from '../github/directory.js';
import type { AuthDecision, IdentitySource, OfferedKey } from './types.js';


// Parsed key sets, keyed by the record's keys array: a record (and its stale copies, which
// share the array) is parsed once, so a warm decision is one Set lookup.
const keySets = new WeakMap<readonly string[], ReadonlySet<string>>();

/** True for key algorithms ssh2 cannot verify: FIDO security keys and OpenSSH certificates. */
export function isUnsupportedKeyAlgo(algo: string): boolean {
  return algo.startsWith('sk-') || algo.includes('-cert-v0');
}

/** The pure authorization table: may the offered key log in given what GitHub says about the user. */
export function decide(record: MemberRecord, offered: OfferedKey): AuthDecision {
  if (record.status === 'unavailable') return { kind: 'unavailable', reason: 'github_unavailable', detail: record.reason };
  if (record.status === 'no_such_user') return { kind: 'deny', reason: 'no_such_user' };
  if (record.teams.length === 0) {
    // A pending invitation has not been accepted: it never grants access.
    return { kind: 'deny', reason: record.pendingTeams.length > 0 ? 'pending_invitation' : 'not_member' };
  }
  if (isUnsupportedKeyAlgo(offered.algo)) return { kind: 'deny', reason: 'unsupported_key_type' };
  if (!githubKeySet(record.keys).has(`${offered.algo} ${offered.data.toString('base64')}`)) {
    return { kind: 'deny', reason: 'key_not_on_github' };
  }
  return { kind: 'allow', login: record.login, teams: [...record.teams], stale: record.stale };
}

/** The user's GitHub keys as "type base64-blob" strings, parsed by ssh2 (unparseable lines dropped). */
export function githubKeySet(lines: readonly string[]): ReadonlySet<string> {
  let set = keySets.get(lines);
  if (set) return set;
  const parsed = new Set<string>();
  for (const line of lines) {
    const key = ssh2.utils.parseKey(line);
    // ssh2 rejects sk-* and certificate lines; they could never be verified anyway.
    if (key instanceof Error) continue;
    for (const k of Array.isArray(key) ? key : [key]) {
      parsed.add(`${k.type} ${k.getPublicSSH().toString('base64')}`);
    }
  }
  set = parsed;
  keySets.set(lines, set);
  return set;
}

/** The GitHub directory as an identity source: membership of a configured team and the key on the user's account. */
export function gitHubIdentitySource(directory: { lookup(user: string): Promise<MemberRecord> }): IdentitySource {
  return { name: 'github', stage: 'key', decide: async (req) => decide(await directory.lookup(req.user), req.key) };
}
