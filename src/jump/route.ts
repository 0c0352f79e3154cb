/**
 * Username routing: `ssh alice@db1@bastion` makes the SSH user `alice@db1` (OpenSSH splits the
 * destination on its last `@`). The GitHub login is the part before the last `@` of that user,
 * the target the part after. GitHub logins never contain `@`, so a plain login is unchanged.
 */
export function splitRoute(user: string): { login: string; target: string | undefined } {
  const at = user.lastIndexOf('@');
  if (at <= 0 || at === user.length - 1) return { login: user, target: undefined };
  return { login: user.slice(0, at), target: user.slice(at + 1) };
}
