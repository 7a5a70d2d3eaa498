import { describe, expect, it } from 'vitest';
import { bearerToken } from '../../../src/server/context.ts';

describe('bearerToken', () => {
  it('should take the token of a Bearer header, whatever the scheme case', () => {
    expect(bearerToken('Bearer syt_abc')).toBe('syt_abc');
    expect(bearerToken('bearer syt_abc ')).toBe('syt_abc');
  });

  it('should give null for no header, another scheme or a malformed value', () => {
    expect(bearerToken(null)).toBeNull();
    expect(bearerToken('')).toBeNull();
    expect(bearerToken('Basic YWxpY2U6cHc=')).toBeNull();
    expect(bearerToken('Bearer')).toBeNull();
    expect(bearerToken('Bearer two tokens')).toBeNull();
    // graphql-ws's connection_init payload may hold anything.
    expect(bearerToken(42)).toBeNull();
    // RFC 6750 b64token: nothing that could break the upstream request's headers.
    expect(bearerToken('Bearer syt_abc\u0001')).toBeNull();
    expect(bearerToken('Bearer syt_\u00e9')).toBeNull();
    expect(bearerToken({ token: 'syt_abc' })).toBeNull();
  });
});
