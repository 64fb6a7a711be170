/**
 * Raised when an event read from a stream (or a line from a file) is not a valid event.
 * `field` names the offending field so the dead-letter entry and the log say exactly what is wrong.
 */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
  readonly field: string;
  readonly reason: string;

  constructor(field: string, reason: string, options?: { cause?: unknown }) {
    super(`invalid event: ${field} ${reason}`, options);
    this.field = field;
    this.reason = reason;
  }
}
