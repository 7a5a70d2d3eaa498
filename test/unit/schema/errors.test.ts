import { describe, expect, it } from 'vitest';
import { ConnectionError, MatrixApiError, MatrixHttpError } from '../../../src/matrix/errors.ts';
import { Upstream } from '../../../src/matrix/http.ts';
import { toClientError } from '../../../src/schema/errors.ts';
import {
  DeadlineExceededError,
  MissingTokenError,
  RequestSession,
} from '../../../src/session/request-session.ts';

const endpoint = { method: 'GET', path: '/_matrix/client/v3/rooms/!r:hs/state' };
const apiError = (
  status: number,
  errcode: string,
  error = 'explained',
  retryAfterMs: number | null = null,
) =>
  new MatrixApiError({ status, errcode, error, retryAfterMs, endpoint, body: { errcode, error } });

describe('toClientError', () => {
  it.each([
    [401, 'M_UNKNOWN_TOKEN', 'UNAUTHENTICATED'],
    [401, 'M_MISSING_TOKEN', 'UNAUTHENTICATED'],
    [403, 'M_FORBIDDEN', 'FORBIDDEN'],
    [403, 'M_BAD_STATE', 'FORBIDDEN'],
    [404, 'M_NOT_FOUND', 'NOT_FOUND'],
    [400, 'M_INVALID_PARAM', 'BAD_USER_INPUT'],
    [400, 'M_ROOM_IN_USE', 'BAD_USER_INPUT'],
    [500, 'M_UNKNOWN', 'UPSTREAM_UNAVAILABLE'],
  ])('should map HTTP %i %s to %s, keeping errcode and status', (status, errcode, code) => {
    const error = toClientError(apiError(status, errcode));
    expect(error.extensions).toEqual({ code, matrix: { errcode, status } });
  });

  it("should use the homeserver's explanation as the message for Matrix errors", () => {
    expect(toClientError(apiError(403, 'M_FORBIDDEN', 'You cannot kick')).message).toBe(
      'You cannot kick',
    );
  });

  it('should map a rate limit to RATE_LIMITED with the delay', () => {
    const error = toClientError(apiError(429, 'M_LIMIT_EXCEEDED', 'slow down', 2000));
    expect(error.extensions).toEqual({
      code: 'RATE_LIMITED',
      matrix: { errcode: 'M_LIMIT_EXCEEDED', status: 429 },
      retryAfterMs: 2000,
    });
  });

  it('should map a non-Matrix error body to UPSTREAM_UNAVAILABLE without its content', () => {
    const error = toClientError(
      new MatrixHttpError({
        status: 502,
        retryAfterMs: null,
        endpoint,
        bodySnippet: '<html>proxy</html>',
      }),
    );
    expect(error.extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE', matrix: { status: 502 } });
    expect(error.message).not.toContain('html');
  });

  it('should map transport failures to UPSTREAM_UNAVAILABLE without the address', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:8008'), {
      code: 'ECONNREFUSED',
    });
    const refused = toClientError(new ConnectionError('connect', endpoint, cause));
    const timedOut = toClientError(new ConnectionError('timeout', endpoint, cause));
    expect(refused.extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(refused.message).toBe('The homeserver could not be reached.');
    expect(timedOut.message).toBe('The homeserver did not answer in time.');
    expect(JSON.stringify(refused.toJSON())).not.toContain('10.1.2.3');
  });

  it('should keep the original error for the server log', () => {
    const original = apiError(403, 'M_FORBIDDEN');
    expect(toClientError(original).originalError).toBe(original);
  });
});

describe('toClientError of upstream errors', () => {
  it('should answer a request without a token with UNAUTHENTICATED', () => {
    const session = new RequestSession({
      upstream: new Upstream({ homeserverUrl: 'http://homeserver.invalid' }),
      accessToken: null,
      signal: new AbortController().signal,
    });
    let thrown: unknown;
    try {
      void session.viewer;
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MissingTokenError);
    if (!(thrown instanceof MissingTokenError)) {
      return;
    }
    expect(toClientError(thrown).extensions).toEqual({ code: 'UNAUTHENTICATED' });
  });

  it('should answer a passed deadline with DEADLINE_EXCEEDED', () => {
    const error = toClientError(new DeadlineExceededError(1500));
    expect(error.extensions).toEqual({ code: 'DEADLINE_EXCEEDED' });
    expect(error.message).toMatch(/1500 ms/);
  });
});
