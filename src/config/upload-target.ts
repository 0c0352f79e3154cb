/**
 * Where recordings may go. Session recordings hold secrets typed and shown in terminals, so
 * the public asciinema.org is refused unless the operator opts in explicitly.
 */

/** True when `host` is asciinema.org or one of its subdomains. */
export function isPublicAsciinemaHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'asciinema.org' || h.endsWith('.asciinema.org');
}

/**
 * Returns a problem text when recordings must not be uploaded to `serverUrl`, or undefined
 * when the target is acceptable. Shared by config validation and the uploader's start.
 */
export function validateUploadTarget(serverUrl: string, allowPublicServer: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch {
    return `asciinema server URL "${serverUrl}" is not a valid URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `asciinema server URL must be http(s), got "${url.protocol}"`;
  if (url.username || url.password) return 'asciinema server URL must not carry credentials; the install id is the credential';
  if (!allowPublicServer && isPublicAsciinemaHost(url.hostname)) {
    return `asciinema server ${url.hostname} is public; session recordings hold secrets: set TEAMSSH_ALLOW_PUBLIC_SERVER=true (upload.allowPublicServer) to upload there anyway`;
  }
  return undefined;
}

/** The server base URL without a trailing slash, so paths can be appended. */
export function serverBase(serverUrl: string): string {
  return serverUrl.replace(/\/+$/, '');
}

/** The page where the operator attaches the install id's recordings to an account. */
export function connectUrl(serverUrl: string, installId: string): string {
  return `${serverBase(serverUrl)}/connect/${installId}`;
}
