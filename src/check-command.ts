import { access, constants } from 'node:fs/promises';
import { request } from 'undici';
import type { Config } from './config/load.js';
import { VERSION } from './version.js';
import { preflight } from './preflight.js';
import { ConfigError } from './config/load.js';
import { probeGitHub } from './github/probe.js';
import { gitHubConnection } from './github/connection-settings.js';
import { loadHostKeys } from './server/host-key.js';
import { serverAlgorithmsOptions } from './server/algorithms.js';
import { ensureRecordingsDir } from './recording/recordings-dir.js';
import { probeContainment } from './launch/containment.js';
import { checkTargets } from './jump/check-targets.js';

/** One line of the `teamssh check` report. */
interface Line {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * `teamssh check`: everything an operator should know before going live, one line per
 * check. Returns false when anything is wrong, so deployment scripts can gate on it.
 */
export async function runCheck(config: Config, print: (line: string) => void): Promise<boolean> {
  const lines: Line[] = [{ name: 'configuration', ok: true, detail: config.configFile ? `loaded ${config.configFile} and the environment` : 'loaded from the environment' }];
  try {
    await preflight(config);
    lines.push({ name: 'session accounts and handlers', ok: true, detail: 'every account exists; handlers and hooks are executable' });
  } catch (err) {
    for (const p of err instanceof ConfigError ? err.problems : [String(err)]) lines.push({ name: 'session accounts and handlers', ok: false, detail: p });
  }
  const gh = await probeGitHub(gitHubConnection(config));
  lines.push(...gh.lines);
  try {
    const keys = await loadHostKeys(config.hostKey);
    const offered = new Set((serverAlgorithmsOptions(config.algorithms, keys, '').hostKeys as Array<{ key: unknown }>).map((e) => e.key));
    for (const k of keys) {
      const use = offered.has(k.signer) ? 'offered' : 'not offered (no algorithm for it in TEAMSSH_HOST_KEY_ALGORITHMS)';
      lines.push({ name: 'host key', ok: true, detail: `${k.file}: ${k.type} ${k.fingerprint}, ${use}` });
    }
  } catch (err) {
    lines.push({ name: 'host key', ok: false, detail: err instanceof Error ? err.message : String(err) });
  }
  lines.push({ name: 'algorithms', ok: true, detail: `key exchange ${config.algorithms.kex.join(',')}; ciphers ${config.algorithms.ciphers.join(',')}; MACs ${config.algorithms.macs.join(',')}` });
  lines.push(await probe('recordings directory', async () => {
    await ensureRecordingsDir(config.recordings.dir);
    await access(config.recordings.dir, constants.W_OK);
    return `${config.recordings.dir} writable`;
  }));
  lines.push({ name: 'session containment', ...probeContainment(config.sessions.containment) });
  if (config.upload.serverUrl) {
    const url = config.upload.serverUrl;
    lines.push(await probe('asciinema server', async () => {
      const res = await request(url, { method: 'GET', headersTimeout: 5000, bodyTimeout: 5000, headers: { 'user-agent': `teamssh/${VERSION}` } });
      await res.body.dump();
      if (res.statusCode >= 500) throw new Error(`answered ${res.statusCode}`);
      return `${url} reachable (HTTP ${res.statusCode}); visibility ${config.upload.visibility}`;
    }));
  } else {
    lines.push({ name: 'asciinema server', ok: true, detail: `none configured: recordings stay in ${config.recordings.dir}` });
  }
  lines.push(...(await checkTargets(config)));
  for (const l of lines) print(`${l.ok ? 'ok  ' : 'FAIL'}  ${l.name}: ${l.detail}`);
  const ok = lines.every((l) => l.ok);
  print(ok ? 'all checks passed' : 'some checks failed');
  return ok;
}

async function probe(name: string, fn: () => Promise<string>): Promise<Line> {
  try {
    return { name, ok: true, detail: await fn() };
  } catch (err) {
    return { name, ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}
