import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { requireNewLocalpart } from '../../../src/schema/registration.ts';
import { buildUiaAuth } from '../../../src/schema/uia.ts';

/** The `extensions` of what `run` throws. */
function refusal(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(GraphQLError);
    return (error as GraphQLError).extensions;
  }
  throw new Error('expected a refusal');
}

describe('requireNewLocalpart', () => {
  it('should accept the spec grammar for new localparts, untouched', () => {
    for (const value of ['alice', 'a.b_c=d-e/f+g', '0', '_reserved', 'x'.repeat(252)]) {
      expect(requireNewLocalpart(value, 'username')).toBe(value);
    }
  });

  it('should refuse anything else as BAD_USER_INPUT naming the field', () => {
    for (const value of ['', 'Alice', ' alice', 'al ice', 'élodie', 'a:b', '@alice:example.org']) {
      expect(refusal(() => requireNewLocalpart(value, 'username'))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'username',
      });
    }
  });

  it('should refuse a localpart that cannot fit a 255-byte user ID', () => {
    expect(refusal(() => requireNewLocalpart('x'.repeat(253), 'username'))).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'username',
    });
  });
});

describe('buildUiaAuth', () => {
  it('should name the default user of an m.login.password stage without one', async () => {
    const auth = await buildUiaAuth(
      { type: 'm.login.password', session: 's', password: 'pw' },
      async () => '@alice:example.org',
    );
    expect(auth).toEqual({
      type: 'm.login.password',
      session: 's',
      password: 'pw',
      identifier: { type: 'm.id.user', user: '@alice:example.org' },
    });
  });

  it('should name no one, and ask no one, without a default user', async () => {
    expect(await buildUiaAuth({ type: 'm.login.password', password: 'pw' }, null)).toEqual({
      type: 'm.login.password',
      password: 'pw',
    });
    expect(
      await buildUiaAuth({ type: 'm.login.registration_token', token: 't', session: 's' }, null),
    ).toEqual({ type: 'm.login.registration_token', token: 't', session: 's' });
  });
});
