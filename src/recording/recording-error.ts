import { TeamsshError, type ErrorCode } from '../errors.js';

/** A recording failure with a stable code (`ERR_REC_*`); the message is safe to show, the cause is for the log. */
export class RecordingError extends TeamsshError {
  constructor(code: ErrorCode, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.name = 'RecordingError';
  }
}
