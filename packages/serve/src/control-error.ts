import type { ErrorCode } from '@proxyscope/protocol';

/** A refused or failed client request: becomes an `error` message with this code (and field). */
export class ControlError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}
