/**
 * When to send an upstream request again, as a pure function so that it can be tested without a
 * clock or a network.
 */
import { ConnectionError, MatrixApiError, MatrixHttpError } from './errors.ts';
import { isRateLimited, jitteredBackoffMs, rateLimitDelayMs } from './policy.ts';

export interface RetryPolicy {
  /**
   * How many times one call may be sent in all, the first try included.
   * @default 4
   */
  maxAttempts: number;
  /**
   * The first backoff delay; it doubles with each failure.
   * @default 200
   */
  baseDelayMs: number;
  /**
   * The cap on one backoff delay.
   * @default 5000
   */
  maxDelayMs: number;
  /**
   * The most one call may spend waiting in all (rate-limit delays included) before it gives up and
   * surfaces the error: a caller is better served by a `RATE_LIMITED` error than a hung request.
   * @default 15000
   */
  maxTotalDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = Object.freeze({
  maxAttempts: 4,
  baseDelayMs: 200,
  maxDelayMs: 5000,
  maxTotalDelayMs: 15_000,
});

export interface RetryContext {
  /** How many times the call has been sent so far (1 after the first failure). */
  attempts: number;
  /** Whether sending the request twice has the same effect as sending it once. */
  idempotent: boolean;
  /** How long this call has already spent waiting between tries. */
  waitedMs: number;
}

const retriableStatuses = new Set([502, 503, 504]);

/**
 * The delay before the next try, or `null` to give up and surface `error`.
 *
 * - 429 (rate limited): after the server's delay when it gave one, for every method, since a
 *   homeserver refuses a rate-limited request before acting on it. A delay past
 *   `maxTotalDelayMs` gives up at once (however large: `Retry-After: 3000000` never reaches a
 *   timer).
 * - 502/503/504 and broken or refused connections: capped, jittered exponential backoff, and only
 *   for idempotent requests (GET, PUT with a transaction ID, state PUT): a POST such as
 *   `createRoom` may have taken effect before the failure, so sending it again could act twice.
 * - Timeouts, responses too large, malformed answers, other statuses and unknown errors: never;
 *   a timed-out call already used its budget, and the others would come back the same.
 */
export function retryDelayMs(
  error: unknown,
  context: RetryContext,
  policy: RetryPolicy = defaultRetryPolicy,
  random: () => number = Math.random,
): number | null {
  if (context.attempts >= policy.maxAttempts) {
    return null;
  }
  let delay: number;
  const bounds = { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs };
  if (isRateLimited(error)) {
    delay = rateLimitDelayMs(error) ?? jitteredBackoffMs(context.attempts, bounds, random);
  } else if (isTransient(error) && context.idempotent) {
    delay = jitteredBackoffMs(context.attempts, bounds, random);
  } else {
    return null;
  }
  return context.waitedMs + delay > policy.maxTotalDelayMs ? null : delay;
}

function isTransient(error: unknown): boolean {
  if (error instanceof MatrixApiError || error instanceof MatrixHttpError) {
    return retriableStatuses.has(error.status);
  }
  return (
    error instanceof ConnectionError && (error.failure === 'connect' || error.failure === 'reset')
  );
}
