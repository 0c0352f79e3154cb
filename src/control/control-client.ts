import net from 'node:net';
import { TeamsshError } from '../errors.js';
import type { ControlRequest, ControlResponse } from './protocol.js';

const TIMEOUT_MS = 10_000;

/**
 * Sends one request to the server's control socket and returns its answer. Throws
 * ERR_NO_SERVER when nothing listens there (no server running, or another socket path).
 */
export function askServer(file: string, req: ControlRequest): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const s = net.connect(file);
    s.setTimeout(TIMEOUT_MS, () => s.destroy(new Error('timed out')));
    s.once('connect', () => s.write(`${JSON.stringify(req)}\n`));
    s.setEncoding('utf8').on('data', (d: string) => (buf += d));
    s.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new TeamsshError('ERR_NO_SERVER', `no running teamssh server at ${file} (is teamssh serve running? is TEAMSSH_CONTROL_SOCKET the same?)`));
      else if (err.code === 'EACCES') reject(new TeamsshError('ERR_NO_SERVER', `permission denied on ${file}: run as the user teamssh serve runs as (root)`));
      else reject(new TeamsshError('ERR_NO_SERVER', `control socket ${file}: ${err.message}`));
    });
    s.once('end', () => {
      try {
        resolve(JSON.parse(buf) as ControlResponse);
      } catch {
        reject(new TeamsshError('ERR_NO_SERVER', `the server at ${file} gave no readable answer`));
      }
    });
  });
}
