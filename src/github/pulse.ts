/**
 * Whether GitHub has been answering, for `/readyz`. Every GitHub request of the process
 * reports here (the Octokit hook in src/metrics/github-hook.ts). An answer is any HTTP
 * response GitHub gives on purpose (200, 304, 404 …); a failure is no answer (network,
 * timeout, 5xx) or one that makes every lookup fail (401 bad token, 403/429 rate limit).
 */
export class GitHubPulse {
  #lastAnswerAt: number | undefined;
  #failingSince: number | undefined;

  /** GitHub answered a request. */
  answered(now = Date.now()): void {
    this.#lastAnswerAt = now;
    this.#failingSince = undefined;
  }

  /** A request got no usable answer. */
  failed(now = Date.now()): void {
    this.#failingSince ??= now;
  }

  /**
   * Ready unless the latest request failed and GitHub has not answered for `maxStaleMs`:
   * within that bound the cache still serves verified answers (TEAMSSH_CACHE_MAX_STALE), so
   * members still get in. Before any request nothing has failed and GitHub counts as ready;
   * a failed start probe with no answer before it is not ready.
   */
  state(maxStaleMs: number, now = Date.now()): { ok: boolean; lastAnswerAt: string | null; failingSince: string | null } {
    const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());
    const ok = this.#failingSince === undefined || (this.#lastAnswerAt !== undefined && now - this.#lastAnswerAt < maxStaleMs);
    return { ok, lastAnswerAt: iso(this.#lastAnswerAt), failingSince: iso(this.#failingSince) };
  }
}

/** The process's pulse: every GitHub client reports to it. */
export const githubPulse = new GitHubPulse();
