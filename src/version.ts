import { readFileSync } from 'node:fs';

/** teamssh's version, read once from package.json (two levels above the compiled file). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
