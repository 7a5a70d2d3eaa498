/**
 * The failures the set-up of the demo and the tests expects (not root, no package mirror, a
 * provisioning that failed): the message alone says what went wrong and what to do, so it is
 * printed without a stack trace.
 */
export class SetupError extends Error {
  override readonly name = 'SetupError';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    // Where the error is printed whole (vitest reports a failed globalSetup with its stack), a
    // stack of the set-up code would only bury the message.
    this.stack = `${this.name}: ${message}`;
  }
}

/**
 * `error`'s message when it is a {@link SetupError}; otherwise its stack (an unexpected failure is
 * a bug, and its stack is what finds it).
 */
export function describeSetupFailure(error: unknown): string {
  if (error instanceof SetupError) {
    return error.message;
  }
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
