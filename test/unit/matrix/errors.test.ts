import { describe, expect, it } from 'vitest';
import {
  ConnectionError,
  isUpstreamError,
  MatrixApiError,
  MatrixHttpError,
  parseErrorResponse,
  parseRetryAfterHeader,
  upstreamStatus,
} from '../../../src/matrix/errors.ts';

const endpoint = { method: 'PUT', path: '/_matrix/client/v3/rooms/!r%3Ahs/send/m.room.message/t1' };
const now = Date.parse('Sun, 06 Nov 1994 08:49:30 GMT');

describe('parseErrorResponse', () => {
  it('should turn a Matrix error body into a MatrixApiError with its fields', () => {
    const body = { errcode: 'M_FORBIDDEN', error: 'You are not invited to this room.' };
    const error = parseErrorResponse(403, undefined, JSON.stringify(body), endpoint);

    expect(error).toBeInstanceOf(MatrixApiError);
    expect(error).toMatchObject({
      name: 'MatrixApiError',
      status: 403,
      errcode: 'M_FORBIDDEN',
      error: 'You are not invited to this room.',
      retryAfterMs: null,
      endpoint,
      body,
    });
    expect(error.message).toBe('M_FORBIDDEN (HTTP 403): You are not invited to this room.');
  });

  it('should keep fields specific to one errcode in the body', () => {
    const text = '{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid token","soft_logout":false}';
    const error = parseErrorResponse(401, undefined, text, endpoint) as MatrixApiError;
    expect(error.body['soft_logout']).toBe(false);
  });

  it('should accept a Matrix error without an explanation', () => {
    const error = parseErrorResponse(404, undefined, '{"errcode":"M_NOT_FOUND"}', endpoint);
    expect(error).toMatchObject({ errcode: 'M_NOT_FOUND', error: '' });
  });

  it.each([
    ['HTML', '<html><body>502 Bad Gateway</body></html>'],
    ['empty', ''],
    ['a JSON object without errcode', '{"message":"bad gateway"}'],
    ['a JSON errcode that is not a string', '{"errcode":42}'],
    ['a JSON array', '[{"errcode":"M_UNKNOWN"}]'],
    ['JSON null', 'null'],
  ])('should turn a %s body into a MatrixHttpError', (_name, text) => {
    const error = parseErrorResponse(502, undefined, text, endpoint);
    expect(error).toBeInstanceOf(MatrixHttpError);
    expect(error).toMatchObject({
      name: 'MatrixHttpError',
      status: 502,
      bodySnippet: text,
      endpoint,
    });
  });

  it('should keep only the first 200 characters of a non-JSON body', () => {
    const text = `<html>${'x'.repeat(500)}</html>`;
    const error = parseErrorResponse(503, undefined, text, endpoint) as MatrixHttpError;
    expect(error.bodySnippet).toBe(text.slice(0, 200));
  });

  it('should not put the body in the message', () => {
    const error = parseErrorResponse(502, undefined, 'secret-looking body', endpoint);
    expect(error.message).not.toContain('secret-looking');
  });

  describe('retry delay', () => {
    const limited = (retryAfterMs?: unknown) =>
      JSON.stringify({
        errcode: 'M_LIMIT_EXCEEDED',
        error: 'Too Many Requests',
        retry_after_ms: retryAfterMs,
      });

    it('should read retry_after_ms from the body', () => {
      expect(parseErrorResponse(429, undefined, limited(1500), endpoint).retryAfterMs).toBe(1500);
    });

    it('should let the Retry-After header win over retry_after_ms', () => {
      expect(parseErrorResponse(429, '3', limited(1500), endpoint).retryAfterMs).toBe(3000);
      expect(parseErrorResponse(429, '0', limited(1500), endpoint).retryAfterMs).toBe(0);
    });

    it('should read an HTTP-date Retry-After against the given now', () => {
      const header = 'Sun, 06 Nov 1994 08:49:37 GMT';
      expect(parseErrorResponse(429, header, limited(1500), endpoint, now).retryAfterMs).toBe(7000);
    });

    it('should fall back to retry_after_ms when the header is invalid', () => {
      for (const header of ['soon', '1.5', '-1', '']) {
        expect(parseErrorResponse(429, header, limited(1500), endpoint, now).retryAfterMs).toBe(
          1500,
        );
      }
    });

    it.each([
      ['negative', -5],
      ['a string', '1500'],
      ['absent', undefined],
    ])('should ignore a retry_after_ms that is %s', (_name, value) => {
      expect(parseErrorResponse(429, undefined, limited(value), endpoint).retryAfterMs).toBeNull();
    });

    it('should keep the Retry-After of a non-JSON answer', () => {
      const error = parseErrorResponse(429, '2', '<html>slow down</html>', endpoint);
      expect(error).toBeInstanceOf(MatrixHttpError);
      expect(error.retryAfterMs).toBe(2000);
    });
  });
});

describe('parseRetryAfterHeader', () => {
  it.each([
    ['0', 0],
    ['1', 1000],
    ['120', 120_000],
    [' 2 ', 2000],
  ])('should read delay-seconds %j', (header, expected) => {
    expect(parseRetryAfterHeader(header, now)).toBe(expected);
  });

  it.each([
    ['IMF-fixdate', 'Sun, 06 Nov 1994 08:49:37 GMT'],
    ['RFC 850', 'Sunday, 06-Nov-94 08:49:37 GMT'],
    ['asctime', 'Sun Nov  6 08:49:37 1994'],
  ])('should read an %s HTTP-date as the time left until then', (_name, header) => {
    expect(parseRetryAfterHeader(header, now)).toBe(7000);
  });

  it('should read a date in the past as no delay', () => {
    expect(parseRetryAfterHeader('Sun, 06 Nov 1994 08:00:00 GMT', now)).toBe(0);
  });

  it.each([undefined, '', '   ', 'soon', '1.5', '-1', '12abc', '1e3', '0x10', '2024-01-01'])(
    'should reject %j',
    (header) => {
      expect(parseRetryAfterHeader(header, now)).toBeNull();
    },
  );
});

describe('MatrixApiError.isRateLimit', () => {
  const error = (status: number, errcode: string) =>
    new MatrixApiError({ status, errcode, error: '', retryAfterMs: null, endpoint, body: {} });

  it('should hold for any 429, whatever the errcode', () => {
    expect(error(429, 'M_LIMIT_EXCEEDED').isRateLimit).toBe(true);
    expect(error(429, 'M_UNKNOWN').isRateLimit).toBe(true);
  });

  it('should hold for M_LIMIT_EXCEEDED, whatever the status', () => {
    expect(error(400, 'M_LIMIT_EXCEEDED').isRateLimit).toBe(true);
  });

  it('should not hold for other errors', () => {
    expect(error(403, 'M_FORBIDDEN').isRateLimit).toBe(false);
    expect(error(503, 'M_UNKNOWN').isRateLimit).toBe(false);
  });
});

describe('ConnectionError', () => {
  it('should keep its cause and say where the call went without any query', () => {
    const cause = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const error = new ConnectionError(
      'reset',
      { method: 'GET', path: '/_matrix/client/v3/sync' },
      cause,
    );
    expect(error).toMatchObject({ name: 'ConnectionError', failure: 'reset', cause });
    expect(error.message).toBe('upstream reset failure on GET /_matrix/client/v3/sync');
  });
});

describe('isUpstreamError', () => {
  it('should recognise the three upstream error classes and nothing else', () => {
    expect(
      isUpstreamError(parseErrorResponse(403, undefined, '{"errcode":"M_FORBIDDEN"}', endpoint)),
    ).toBe(true);
    expect(isUpstreamError(parseErrorResponse(502, undefined, 'bad gateway', endpoint))).toBe(true);
    expect(isUpstreamError(new ConnectionError('timeout', endpoint, null))).toBe(true);
    expect(isUpstreamError(new Error('M_FORBIDDEN'))).toBe(false);
    expect(isUpstreamError({ errcode: 'M_FORBIDDEN', status: 403 })).toBe(false);
  });
});

describe('upstreamStatus', () => {
  it('should give the status of upstream answers and null for everything else', () => {
    expect(
      upstreamStatus(parseErrorResponse(404, undefined, '{"errcode":"M_NOT_FOUND"}', endpoint)),
    ).toBe(404);
    expect(upstreamStatus(parseErrorResponse(502, undefined, '<html>', endpoint))).toBe(502);
    expect(upstreamStatus(new ConnectionError('reset', endpoint, new Error('x')))).toBeNull();
    expect(upstreamStatus(new Error('other'))).toBeNull();
  });
});
