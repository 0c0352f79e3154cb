/**
 * Runs tasks one after another per key and concurrently across keys: the checks of one
 * login happen in the order their triggers arrived, while other logins do not wait.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<void>>();
  readonly #onError: (key: string, err: unknown) => void;

  /** `onError` receives a task's failure; the queue of that key goes on. */
  constructor(onError: (key: string, err: unknown) => void) {
    this.#onError = onError;
  }

  /** Queues `task` behind the earlier tasks of `key`; resolves when it has run (never rejects). */
  run(key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous.then(task).catch((err: unknown) => this.#onError(key, err));
    this.#tails.set(key, next);
    // The map holds only keys with work pending: the last task of a key removes it.
    void next.then(() => {
      if (this.#tails.get(key) === next) this.#tails.delete(key);
    });
    return next;
  }

  /** Keys with work queued or running. */
  get size(): number {
    return this.#tails.size;
  }

  /** Resolves when every task queued so far has run. */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()]);
  }
}
