import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionError, MatrixHttpError } from '../../../src/matrix/errors.ts';
import {
  abortableSleep,
  absentAsNull,
  isRateLimited,
  isTokenRefused,
  jitteredBackoffMs,
  MAX_RETRY_AFTER_MS,
  rateLimitDelayMs,
} from '../../../src/matrix/policy.ts';
import { apiError } from '../sync/scripted-transport.ts';

const endpoint = { method: 'GET', path: '/_matrix/client/v3/sync' };

function httpError(status: number, retryAfterMs: number | null = null) {
  return new MatrixHttpError({ status, retryAfterMs, endpoint, bodySnippet: '<html>' });
}

describe('isRateLimited', () => {
  it('should recognise M_LIMIT_EXCEEDED whatever its status', () => {
    expect(isRateLimited(apiError(429, 'M_LIMIT_EXCEEDED'))).toBe(true);
    expect(isRateLimited(apiError(400, 'M_LIMIT_EXCEEDED'))).toBe(true);
  });

  it('should recognise any 429, with a Matrix body or without', () => {
    expect(isRateLimited(apiError(429, 'M_UNKNOWN'))).toBe(true);
    expect(isRateLimited(httpError(429))).toBe(true);
  });

  it('should not take an unavailable homeserver or other failures for a rate limit', () => {
    expect(isRateLimited(httpError(503))).toBe(false);
    expect(isRateLimited(apiError(503, 'M_UNKNOWN'))).toBe(false);
    expect(isRateLimited(apiError(403, 'M_FORBIDDEN'))).toBe(false);
    expect(isRateLimited(new ConnectionError('reset', endpoint, null))).toBe(false);
    expect(isRateLimited({ status: 429 })).toBe(false);
  });
});

describe('rateLimitDelayMs', () => {
  it('should give the delay the homeserver asked for', () => {
    expect(rateLimitDelayMs(apiError(429, 'M_LIMIT_EXCEEDED', 1234))).toBe(1234);
    expect(rateLimitDelayMs(httpError(429, 3000))).toBe(3000);
  });

  it('should give null for a rate limit without a delay, and for anything else', () => {
    expect(rateLimitDelayMs(apiError(429, 'M_LIMIT_EXCEEDED'))).toBeNull();
    expect(rateLimitDelayMs(httpError(503, 3000))).toBeNull();
    expect(rateLimitDelayMs(new Error('boom'))).toBeNull();
  });

  it('should cap a huge delay at 5 minutes, or at the cap given', () => {
    // `Retry-After: 3000000` is 3·10⁹ ms, past what a timer holds (it would fire at once).
    expect(rateLimitDelayMs(apiError(429, 'M_LIMIT_EXCEEDED', 3_000_000_000))).toBe(
      MAX_RETRY_AFTER_MS,
    );
    expect(MAX_RETRY_AFTER_MS).toBe(300_000);
    expect(rateLimitDelayMs(httpError(429, Number.POSITIVE_INFINITY), 10_000)).toBe(10_000);
  });
});

describe('isTokenRefused', () => {
  it('should recognise a 401 M_UNKNOWN_TOKEN or M_MISSING_TOKEN', () => {
    expect(isTokenRefused(apiError(401, 'M_UNKNOWN_TOKEN'))).toBe(true);
    expect(isTokenRefused(apiError(401, 'M_MISSING_TOKEN'))).toBe(true);
  });

  it('should not take user-interactive auth, other statuses or other errors for a refused token', () => {
    expect(isTokenRefused(apiError(401, 'M_FORBIDDEN'))).toBe(false);
    expect(isTokenRefused(apiError(403, 'M_UNKNOWN_TOKEN'))).toBe(false);
    expect(isTokenRefused(httpError(401))).toBe(false);
    expect(isTokenRefused(new Error('M_UNKNOWN_TOKEN'))).toBe(false);
  });
});

describe('jitteredBackoffMs', () => {
  const bounds = { baseMs: 100, maxMs: 1000 };
  const lowest = () => 0;
  const highest = () => 1;

  it('should double with each failure, between half and all of the exponential delay', () => {
    expect([1, 2, 3].map((failures) => jitteredBackoffMs(failures, bounds, lowest))).toEqual([
      50, 100, 200,
    ]);
    expect([1, 2, 3].map((failures) => jitteredBackoffMs(failures, bounds, highest))).toEqual([
      100, 200, 400,
    ]);
  });

  it('should cap the delay', () => {
    expect(jitteredBackoffMs(5, bounds, highest)).toBe(1000);
    expect(jitteredBackoffMs(5, bounds, lowest)).toBe(500);
  });

  it('should stay finite and capped for huge failure counts, even with a zero base', () => {
    expect(jitteredBackoffMs(1_000_000, bounds, highest)).toBe(1000);
    expect(jitteredBackoffMs(Number.MAX_SAFE_INTEGER, bounds, lowest)).toBe(500);
    expect(jitteredBackoffMs(1_000_000, { baseMs: 0, maxMs: 1000 }, highest)).toBe(0);
  });

  it('should treat zero failures as the first', () => {
    expect(jitteredBackoffMs(0, bounds, highest)).toBe(100);
  });
});

describe('abortableSleep', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('should resolve after the delay and leave no timer behind', async () => {
    vi.useFakeTimers();
    const signal = new AbortController().signal;
    let resolved = false;
    const sleeping = abortableSleep(1000, signal).then(() => {
      resolved = true;
    });

    await vi.advanceTimersByTimeAsync(999);
    expect(resolved).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await sleeping;
    expect(resolved).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should wait as long as a timer can for a delay past 2³¹−1 ms, never firing at once', async () => {
    vi.useFakeTimers();
    let resolved = false;
    const controller = new AbortController();
    const sleeping = abortableSleep(3_000_000_000, controller.signal).then(
      () => {
        resolved = true;
      },
      () => {},
    );

    await vi.advanceTimersByTimeAsync(60_000);
    expect(resolved).toBe(false);
    controller.abort();
    await sleeping;
  });

  it('should resolve without a signal', async () => {
    vi.useFakeTimers();
    const sleeping = abortableSleep(10);
    await vi.advanceTimersByTimeAsync(10);
    await expect(sleeping).resolves.toBeUndefined();
  });

  it('should reject with the exact reason when the signal has already aborted', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const reason = { why: 'gone' };
    controller.abort(reason);

    await expect(abortableSleep(1000, controller.signal)).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should reject with the exact reason when the signal aborts while waiting, clearing its timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const reason = new Error('stopped');
    const sleeping = abortableSleep(60_000, controller.signal);
    expect(vi.getTimerCount()).toBe(1);

    controller.abort(reason);

    await expect(sleeping).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should stop listening to the signal once it has resolved', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const removed = vi.spyOn(controller.signal, 'removeEventListener');
    const sleeping = abortableSleep(10, controller.signal);
    await vi.advanceTimersByTimeAsync(10);
    await sleeping;

    expect(removed).toHaveBeenCalledWith('abort', expect.any(Function));
    // A late abort has nobody left to reject.
    controller.abort(new Error('late'));
  });
});

describe('absentAsNull', () => {
  it('should resolve null when the homeserver answered 404, Matrix body or not', async () => {
    await expect(absentAsNull(Promise.reject(apiError(404, 'M_NOT_FOUND')))).resolves.toBeNull();
    await expect(absentAsNull(Promise.reject(httpError(404)))).resolves.toBeNull();
  });

  it('should pass a value through', async () => {
    await expect(absentAsNull(Promise.resolve({ roomId: '!r:hs.test' }))).resolves.toEqual({
      roomId: '!r:hs.test',
    });
  });

  it('should rethrow a refusal, a transport failure and any other error untouched', async () => {
    const forbidden = apiError(403, 'M_FORBIDDEN');
    await expect(absentAsNull(Promise.reject(forbidden))).rejects.toBe(forbidden);
    const reset = new ConnectionError('reset', endpoint, null);
    await expect(absentAsNull(Promise.reject(reset))).rejects.toBe(reset);
    const bug = new TypeError('not an upstream error');
    await expect(absentAsNull(Promise.reject(bug))).rejects.toBe(bug);
  });
});
