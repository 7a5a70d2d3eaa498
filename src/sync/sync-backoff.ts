/**
 * How the sync loop reacts to a failed request, as pure functions so that they can be tested
 * without a clock or a network.
 */
import { MatrixApiError } from '../matrix/errors.ts';
import { jitteredBackoffMs, MAX_RETRY_AFTER_MS, rateLimitDelayMs } from '../matrix/policy.ts';

export interface SyncBackoffPolicy {
  /**
   * The delay after the first failure of a row; it doubles with each further failure.
   * @default 1000
   */
  initialDelayMs: number;
  /**
   * The cap on one delay (a `Retry-After` from the homeserver is honoured even when longer, up
   * to {@link SyncBackoffPolicy.maxRetryAfterMs}).
   * @default 30000
   */
  maxDelayMs: number;
  /**
   * The longest `Retry-After` honoured; a longer one waits this long.
   * @default 300000 ({@link MAX_RETRY_AFTER_MS})
   */
  maxRetryAfterMs: number;
}

export const defaultSyncBackoff: SyncBackoffPolicy = Object.freeze({
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  maxRetryAfterMs: MAX_RETRY_AFTER_MS,
});

/**
 * Whether `error` means the access token is no longer valid (logged out, deleted device,
 * deactivated account): 401 `M_UNKNOWN_TOKEN`, or any other Matrix 401. No retry can help, so the
 * loop ends. A 401 without a Matrix body came from something in front of the homeserver and is
 * treated as a transient failure instead.
 */
export function isTokenRejected(error: unknown): error is MatrixApiError {
  return (
    error instanceof MatrixApiError &&
    (error.status === 401 ||
      error.errcode === 'M_UNKNOWN_TOKEN' ||
      error.errcode === 'M_MISSING_TOKEN')
  );
}

/**
 * How long to wait before the next sync after `consecutiveFailures` failures in a row (1 after the
 * first), `error` being the latest.
 *
 * - Rate limited (429 or `M_LIMIT_EXCEEDED`) with a delay from the homeserver: that delay, since
 *   asking earlier is refused anyway, capped at `maxRetryAfterMs` (a huge one would look like a
 *   hang) and never below half the initial delay (a `Retry-After: 0` answered again and again
 *   must not make the loop spin).
 * - Everything else (broken connections, timeouts, 5xx, a 429 without a delay, other errors):
 *   capped exponential backoff with "equal jitter" (half fixed, half random), so that the loops
 *   of many users do not hit a recovering homeserver at the same instant.
 *
 * A sync loop never gives up on its own (only a rejected token ends it, see
 * {@link isTokenRejected}): its subscribers expect it to resume when the homeserver is back.
 */
export function syncRetryDelayMs(
  error: unknown,
  consecutiveFailures: number,
  policy: SyncBackoffPolicy = defaultSyncBackoff,
  random: () => number = Math.random,
): number {
  const retryAfterMs = rateLimitDelayMs(error, policy.maxRetryAfterMs);
  if (retryAfterMs !== null) {
    return Math.max(retryAfterMs, policy.initialDelayMs / 2);
  }
  return jitteredBackoffMs(
    consecutiveFailures,
    { baseMs: policy.initialDelayMs, maxMs: policy.maxDelayMs },
    random,
  );
}
