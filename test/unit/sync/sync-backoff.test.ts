import { describe, expect, it } from 'vitest';
import { ConnectionError, MatrixHttpError } from '../../../src/matrix/errors.ts';
import { isTokenRejected, syncRetryDelayMs } from '../../../src/sync/sync-backoff.ts';
import { apiError, unknownToken } from './scripted-transport.ts';

const endpoint = { method: 'GET', path: '/_matrix/client/v3/sync' };
const policy = { initialDelayMs: 1000, maxDelayMs: 30_000, maxRetryAfterMs: 300_000 };
const lowest = () => 0;
const highest = () => 1;
const reset = new ConnectionError('reset', endpoint, new Error('socket hang up'));

describe('syncRetryDelayMs', () => {
  it('should double the delay with each failure in a row, between half and all of it', () => {
    expect(
      [1, 2, 3, 4].map((failures) => syncRetryDelayMs(reset, failures, policy, lowest)),
    ).toEqual([500, 1000, 2000, 4000]);
    expect(
      [1, 2, 3, 4].map((failures) => syncRetryDelayMs(reset, failures, policy, highest)),
    ).toEqual([1000, 2000, 4000, 8000]);
  });

  it('should cap the delay, however many failures', () => {
    expect(syncRetryDelayMs(reset, 6, policy, highest)).toBe(30_000);
    expect(syncRetryDelayMs(reset, 10_000, policy, highest)).toBe(30_000);
  });

  it('should back off the same way for a 502 without a Matrix body and for a Matrix 500', () => {
    const badGateway = new MatrixHttpError({
      status: 502,
      retryAfterMs: null,
      endpoint,
      bodySnippet: '<html>',
    });
    expect(syncRetryDelayMs(badGateway, 2, policy, highest)).toBe(2000);
    expect(syncRetryDelayMs(apiError(500, 'M_UNKNOWN'), 2, policy, highest)).toBe(2000);
  });

  it("should wait exactly the homeserver's Retry-After when rate limited, even beyond the cap", () => {
    expect(syncRetryDelayMs(apiError(429, 'M_LIMIT_EXCEEDED', 1234), 1, policy, highest)).toBe(
      1234,
    );
    expect(syncRetryDelayMs(apiError(429, 'M_LIMIT_EXCEEDED', 90_000), 1, policy, lowest)).toBe(
      90_000,
    );
    const proxyLimit = new MatrixHttpError({
      status: 429,
      retryAfterMs: 3000,
      endpoint,
      bodySnippet: '',
    });
    expect(syncRetryDelayMs(proxyLimit, 5, policy, highest)).toBe(3000);
  });

  it('should cap a huge Retry-After at maxRetryAfterMs, never a delay a timer cannot hold', () => {
    // `Retry-After: 3000000` (seconds): past 2³¹−1 ms a timer fires at once, so the loop spun.
    const huge = apiError(429, 'M_LIMIT_EXCEEDED', 3_000_000_000);
    expect(syncRetryDelayMs(huge, 1, policy, highest)).toBe(300_000);
    expect(syncRetryDelayMs(apiError(429, 'M_LIMIT_EXCEEDED', Infinity), 1, policy)).toBe(300_000);
    expect(syncRetryDelayMs(huge, 1, { ...policy, maxRetryAfterMs: 60_000 }, highest)).toBe(60_000);
  });

  it('should not let a Retry-After of 0 make the loop retry at once', () => {
    expect(syncRetryDelayMs(apiError(429, 'M_LIMIT_EXCEEDED', 0), 1, policy, lowest)).toBe(500);
  });

  it('should back off as usual for a 429 that names no delay', () => {
    expect(syncRetryDelayMs(apiError(429, 'M_LIMIT_EXCEEDED'), 3, policy, highest)).toBe(4000);
  });
});

describe('isTokenRejected', () => {
  it('should recognise a revoked or missing token', () => {
    expect(isTokenRejected(unknownToken())).toBe(true);
    expect(isTokenRejected(apiError(401, 'M_MISSING_TOKEN'))).toBe(true);
  });

  it('should not end a loop for failures a retry can cure', () => {
    expect(isTokenRejected(reset)).toBe(false);
    expect(isTokenRejected(apiError(429, 'M_LIMIT_EXCEEDED'))).toBe(false);
    expect(isTokenRejected(apiError(403, 'M_FORBIDDEN'))).toBe(false);
    expect(
      isTokenRejected(
        new MatrixHttpError({ status: 401, retryAfterMs: null, endpoint, bodySnippet: '' }),
      ),
    ).toBe(false);
  });
});
