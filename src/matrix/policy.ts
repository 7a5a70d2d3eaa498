/**
 * The rules every caller of the homeserver shares: what counts as a rate limit, how long to back
 * off, how to wait without outliving the caller, and what an absent resource becomes. They live
 * here once so that the retrying HTTP layer, the sync loop and the schema cannot drift apart.
 */
import { MatrixApiError, MatrixHttpError, upstreamStatus } from './errors.ts';

/** The exponential delays of {@link jitteredBackoffMs}. */
export interface BackoffBounds {
  /** The delay after the first failure; it doubles with each further one. */
  baseMs: number;
  /** The cap on one delay. */
  maxMs: number;
}

/**
 * Past 2³⁰ the base delay has long reached any sensible cap; stopping the exponent there keeps
 * `baseMs * 2 ** exponent` finite (`0 * Infinity` would be NaN) however many failures pile up.
 */
const maxExponent = 30;

declare const rateLimitedBrand: unique symbol;

/**
 * An upstream answer that {@link isRateLimited} accepted. The brand exists for the other branch:
 * with a plain `MatrixApiError | MatrixHttpError`, TypeScript would conclude from a `false` that
 * the error is neither class (a 403 is still a MatrixApiError), and narrow it to `never`.
 */
export type RateLimitedError = (MatrixApiError | MatrixHttpError) & {
  readonly [rateLimitedBrand]: true;
};

/**
 * Whether `error` is the homeserver refusing us for sending too much: a Matrix `M_LIMIT_EXCEEDED`
 * (whatever its status), or a 429 from whatever answered. A reverse proxy's rate limit has no
 * Matrix body but means the same, and it too refused the request before forwarding it, so the
 * request had no effect and may be sent again whatever its method.
 */
export function isRateLimited(error: unknown): error is RateLimitedError {
  return (
    (error instanceof MatrixApiError && error.isRateLimit) ||
    (error instanceof MatrixHttpError && error.status === 429)
  );
}

/**
 * The longest delay a rate limit is honoured with: 5 minutes. A homeserver (or a proxy) can name
 * any delay, `Retry-After: 3000000` included; waiting that long would look like a hang, and a
 * delay past what a timer can hold (2³¹−1 ms) would fire at once and turn the wait into a spin.
 */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/**
 * The delay the homeserver asked for when it rate limited us (`Retry-After`, else the body's
 * `retry_after_ms`), capped at `maxMs`, or `null` when `error` is no rate limit or named no
 * delay: the caller then falls back on its own backoff.
 */
export function rateLimitDelayMs(error: unknown, maxMs = MAX_RETRY_AFTER_MS): number | null {
  if (!isRateLimited(error) || error.retryAfterMs === null) {
    return null;
  }
  return Math.min(error.retryAfterMs, maxMs);
}

/**
 * Whether the homeserver refused the access token itself (401 `M_UNKNOWN_TOKEN`: logged out,
 * device deleted, account deactivated; or `M_MISSING_TOKEN`): every further call with it would be
 * refused the same way. Other 401s are not this: user-interactive auth answers 401 (with
 * `M_FORBIDDEN` for a wrong password) to a valid token.
 */
export function isTokenRefused(error: unknown): error is MatrixApiError {
  return (
    error instanceof MatrixApiError &&
    error.status === 401 &&
    (error.errcode === 'M_UNKNOWN_TOKEN' || error.errcode === 'M_MISSING_TOKEN')
  );
}

/**
 * A capped exponential delay with "equal jitter": half of it fixed, half random. The fixed half
 * keeps a retry from coming back at once; the random half spreads the retries of many callers so
 * that they do not hit a recovering homeserver at the same instant.
 *
 * @param failures - how many failures in a row so far, 1 after the first (which waits `baseMs`
 *   at the most).
 * @param random - a number in [0, 1); injected so that tests can pin the jitter.
 */
export function jitteredBackoffMs(
  failures: number,
  { baseMs, maxMs }: BackoffBounds,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(0, failures - 1), maxExponent);
  const exponential = Math.min(maxMs, baseMs * 2 ** exponent);
  return Math.round(exponential / 2 + (exponential / 2) * random());
}

/**
 * The longest delay `setTimeout` holds: a longer one (or a non-finite one) fires after 1 ms
 * instead, with a warning.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Resolves after `ms`, or rejects with `signal.reason`, untouched, as soon as `signal` aborts
 * (at once if it already has), so that a caller who went away is not kept waiting for a retry it
 * no longer wants. The timer and the listener are removed either way, so that nothing keeps the
 * process alive or leaks onto a long-lived signal. A delay past what a timer can hold waits as
 * long as one can (about 24.8 days) rather than firing at once.
 */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  const delay = Number.isNaN(ms) ? 0 : Math.min(Math.max(0, ms), MAX_TIMER_MS);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delay);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The result of `call`, or `null` when the homeserver answered 404: an unknown alias, event or
 * profile is an absent value to a GraphQL client, not an error. Anything else (a 403 included,
 * which says "exists but not for you") is rethrown.
 */
export async function absentAsNull<T>(call: Promise<T>): Promise<T | null> {
  try {
    return await call;
  } catch (error) {
    if (upstreamStatus(error) === 404) {
      return null;
    }
    throw error;
  }
}
