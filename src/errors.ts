/**
 * Errors with a stable code and a message that is safe to show to a user or an operator.
 * The underlying cause travels in `cause` and goes to the log only.
 */
export class TeamsshError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TeamsshError';
  }
}

/** True when `err` is a TeamsshError carrying `code`. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof TeamsshError && err.code === code;
}
