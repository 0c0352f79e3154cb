import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TeamsshError } from '../errors.js';

/**
 * The asciinema install id: the credential that owns every uploaded recording.
 * It is generated once and kept, because a new id would orphan the recordings already
 * attached to the operator's account (and on asciinema.org unattached ones are deleted).
 */

const UUID_LOWER = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

/** True when `s` is a lowercase UUID, the only install id form asciinema servers accept (anything else is 401). */
export function isLowercaseUuid(s: string): boolean {
  return UUID_LOWER.test(s);
}

/** Name of the file under the state directory that keeps the generated install id. */
export const INSTALL_ID_FILE = 'install-id';

/**
 * Returns the configured install id, or the one kept in `<stateDir>/install-id`, creating
 * that file (mode 0600, atomically) with a fresh lowercase UUID on first use.
 * Throws ERR_UPLOAD_INSTALL_ID when the configured or stored value is not a lowercase UUID:
 * silently replacing a credential would detach the operator's recordings.
 */
export async function loadInstallId(stateDir: string, configured?: string): Promise<string> {
  if (configured !== undefined && configured !== '') {
    // Never echo the value: it is a credential.
    if (!isLowercaseUuid(configured)) throw new TeamsshError('ERR_UPLOAD_INSTALL_ID', 'the configured install id (ASCIINEMA_INSTALL_ID) must be a lowercase UUID');
    return configured;
  }
  const file = path.join(stateDir, INSTALL_ID_FILE);
  const existing = await readExisting(file);
  if (existing !== undefined) return existing;

  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const id = randomUUID().toLowerCase();
  // Write the whole value under a private name, then link it into place: link fails if another
  // process won the race, so readers never see a half-written file and nobody overwrites an id.
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await fs.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${id}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.link(tmp, file);
    return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = await readExisting(file);
    if (winner === undefined) throw new TeamsshError('ERR_UPLOAD_INSTALL_ID', `cannot read ${file}`, { cause: err });
    return winner;
  } finally {
    await fs.unlink(tmp).catch(() => undefined);
  }
}

async function readExisting(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TeamsshError('ERR_UPLOAD_INSTALL_ID', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  const id = text.trim();
  if (!isLowercaseUuid(id)) {
    throw new TeamsshError('ERR_UPLOAD_INSTALL_ID', `${file} does not hold a lowercase UUID; fix or remove it (removing it creates a new id and detaches past recordings)`);
  }
  // The id is a credential; tighten a file someone copied in with loose permissions.
  await fs.chmod(file, 0o600).catch(() => undefined);
  return id;
}
