import { describe, expect, it } from 'vitest';
import { ConnectionError, MatrixApiError, MatrixHttpError } from '../../../src/matrix/errors.ts';
import { type RetryContext, type RetryPolicy, retryDelayMs } from '../../../src/matrix/retry.ts';

const endpoint = { method: 'GET', path: '/_matrix/client/v3/joined_rooms' };

const policy: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  maxTotalDelayMs: 5000,
};

/** After the first failure of a GET, nothing waited yet. */
const firstGet: RetryContext = { attempts: 1, idempotent: true, waitedMs: 0 };
const firstPost: RetryContext = { attempts: 1, idempotent: false, waitedMs: 0 };

const lowest = () => 0;
const highest = () => 1;

function apiError(status: number, errcode: string, retryAfterMs: number | null = null) {
  return new MatrixApiError({
    status,
    errcode,
    error: '',
    retryAfterMs,
    endpoint,
    body: { errcode },
  });
}

function httpError(status: number, retryAfterMs: number | null = null) {
  return new MatrixHttpError({ status, retryAfterMs, endpoint, bodySnippet: '<html>' });
}

describe('retryDelayMs', () => {
  describe('rate limits', () => {
    it("should wait the server's delay after a 429, for a POST too", () => {
      const error = apiError(429, 'M_LIMIT_EXCEEDED', 1234);
      expect(retryDelayMs(error, firstGet, policy, lowest)).toBe(1234);
      expect(retryDelayMs(error, firstPost, policy, lowest)).toBe(1234);
    });

    it("should not cap the server's delay at maxDelayMs", () => {
      expect(retryDelayMs(apiError(429, 'M_LIMIT_EXCEEDED', 3000), firstPost, policy)).toBe(3000);
    });

    it('should give up at once on a delay past the total budget, however huge', () => {
      // Retry-After: 3000000 (seconds) and beyond: no timer is ever set for it.
      for (const retryAfterMs of [60_000, 3_000_000_000, Number.POSITIVE_INFINITY]) {
        expect(
          retryDelayMs(apiError(429, 'M_LIMIT_EXCEEDED', retryAfterMs), firstGet, policy),
        ).toBeNull();
      }
    });

    it('should wait at most 5 minutes when the total budget allows more', () => {
      const patient = { ...policy, maxTotalDelayMs: 3_600_000 };
      const huge = apiError(429, 'M_LIMIT_EXCEEDED', 3_000_000_000);
      expect(retryDelayMs(huge, firstGet, patient)).toBe(300_000);
    });

    it('should treat M_LIMIT_EXCEEDED as a rate limit whatever the status', () => {
      expect(retryDelayMs(apiError(400, 'M_LIMIT_EXCEEDED', 700), firstPost, policy)).toBe(700);
    });

    it('should treat a 429 without a Matrix body (a reverse proxy) as a rate limit', () => {
      expect(retryDelayMs(httpError(429, 800), firstPost, policy)).toBe(800);
    });

    it('should back off when the server gave no delay', () => {
      const error = apiError(429, 'M_LIMIT_EXCEEDED');
      expect(retryDelayMs(error, firstPost, policy, lowest)).toBe(50);
      expect(retryDelayMs(error, firstPost, policy, highest)).toBe(100);
    });
  });

  describe('backoff', () => {
    const unavailable = httpError(503);

    it('should keep the delay between half and all of the exponential step', () => {
      expect(retryDelayMs(unavailable, firstGet, policy, lowest)).toBe(50);
      expect(retryDelayMs(unavailable, firstGet, policy, highest)).toBe(100);
      expect(retryDelayMs(unavailable, firstGet, policy, () => 0.5)).toBe(75);
    });

    it('should double the step with each attempt', () => {
      const delays = [1, 2, 3].map((attempts) =>
        retryDelayMs(unavailable, { ...firstGet, attempts }, policy, highest),
      );
      expect(delays).toEqual([100, 200, 400]);
    });

    it('should cap the step at maxDelayMs', () => {
      const longPolicy = { ...policy, maxAttempts: 20, maxTotalDelayMs: 1_000_000 };
      const context = { ...firstGet, attempts: 12 };
      expect(retryDelayMs(unavailable, context, longPolicy, highest)).toBe(1000);
      expect(retryDelayMs(unavailable, context, longPolicy, lowest)).toBe(500);
    });

    it('should stay within the bounds with the default random source', () => {
      for (let i = 0; i < 50; i++) {
        const delay = retryDelayMs(unavailable, { ...firstGet, attempts: 2 }, policy);
        expect(delay).toBeGreaterThanOrEqual(100);
        expect(delay).toBeLessThanOrEqual(200);
      }
    });
  });

  describe('limits', () => {
    it('should give up once maxAttempts tries were made, even when rate limited', () => {
      const rateLimited = apiError(429, 'M_LIMIT_EXCEEDED', 10);
      expect(retryDelayMs(rateLimited, { ...firstGet, attempts: 3 }, policy)).toBe(10);
      expect(retryDelayMs(rateLimited, { ...firstGet, attempts: 4 }, policy)).toBeNull();
      expect(retryDelayMs(httpError(503), { ...firstGet, attempts: 4 }, policy)).toBeNull();
    });

    it('should give up when the wait would take the call past maxTotalDelayMs', () => {
      const rateLimited = apiError(429, 'M_LIMIT_EXCEEDED', 1000);
      expect(retryDelayMs(rateLimited, { ...firstGet, waitedMs: 4000 }, policy)).toBe(1000);
      expect(retryDelayMs(rateLimited, { ...firstGet, waitedMs: 4001 }, policy)).toBeNull();
      expect(retryDelayMs(apiError(429, 'M_LIMIT_EXCEEDED', 5001), firstGet, policy)).toBeNull();
      expect(
        retryDelayMs(httpError(502), { ...firstGet, waitedMs: 4950 }, policy, highest),
      ).toBeNull();
    });
  });

  describe('which failures are retried', () => {
    it.each([502, 503, 504])('should retry a %i only when the request is idempotent', (status) => {
      expect(retryDelayMs(httpError(status), firstGet, policy, highest)).toBe(100);
      expect(retryDelayMs(apiError(status, 'M_UNKNOWN'), firstGet, policy, highest)).toBe(100);
      expect(retryDelayMs(httpError(status), firstPost, policy)).toBeNull();
      expect(retryDelayMs(apiError(status, 'M_UNKNOWN'), firstPost, policy)).toBeNull();
    });

    it.each(['reset', 'connect'] as const)(
      'should retry a %s failure only when the request is idempotent',
      (failure) => {
        const error = new ConnectionError(failure, endpoint, new Error('socket'));
        expect(retryDelayMs(error, firstGet, policy, highest)).toBe(100);
        expect(retryDelayMs(error, firstPost, policy)).toBeNull();
      },
    );

    it('should never retry a timeout: the call has used its time', () => {
      const error = new ConnectionError('timeout', endpoint, new Error('Headers Timeout Error'));
      expect(retryDelayMs(error, firstGet, policy)).toBeNull();
    });

    it('should never retry a response too large or malformed: it would come back the same', () => {
      const tooLarge = new ConnectionError('too-large', endpoint, new Error('too large'));
      const malformed = new MatrixHttpError({
        status: 200,
        retryAfterMs: null,
        endpoint,
        bodySnippet: '{}',
        malformed: 'next_batch is not a string',
      });
      expect(retryDelayMs(tooLarge, firstGet, policy)).toBeNull();
      expect(retryDelayMs(malformed, firstGet, policy)).toBeNull();
    });

    it.each([
      [500, 'M_UNKNOWN'],
      [400, 'M_BAD_JSON'],
      [401, 'M_UNKNOWN_TOKEN'],
      [403, 'M_FORBIDDEN'],
      [404, 'M_NOT_FOUND'],
      [413, 'M_TOO_LARGE'],
    ])('should never retry a %i %s', (status, errcode) => {
      expect(retryDelayMs(apiError(status, errcode), firstGet, policy)).toBeNull();
      expect(retryDelayMs(httpError(status), firstGet, policy)).toBeNull();
    });

    it.each([
      ['an Error', new Error('boom')],
      ['a TypeError', new TypeError('x is undefined')],
      ['an AbortError', new DOMException('aborted', 'AbortError')],
      ['a string', 'boom'],
      ['undefined', undefined],
      ['a lookalike object', { status: 503, failure: 'reset' }],
    ])('should never retry %s', (_name, error) => {
      expect(retryDelayMs(error, firstGet, policy)).toBeNull();
    });
  });
});
