import { describe, expect, it } from 'vitest';
import { MatrixApiError, MatrixHttpError, parseErrorResponse } from '../../../src/matrix/errors.ts';
import { parseAuthResponse, uiaOutcome } from '../../../src/schema/uia.ts';

const endpoint = { method: 'POST', path: '/_matrix/client/v3/account/password' };

describe('parseAuthResponse', () => {
  it('should read flows, session, completed and params', () => {
    expect(
      parseAuthResponse({
        session: 'xyz',
        flows: [{ stages: ['m.login.password'] }, { stages: ['m.login.sso', 'm.login.terms'] }],
        completed: ['m.login.terms'],
        params: { 'm.login.terms': { policies: {} } },
      }),
    ).toEqual({
      session: 'xyz',
      flows: [['m.login.password'], ['m.login.sso', 'm.login.terms']],
      completed: ['m.login.terms'],
      params: { 'm.login.terms': { policies: {} } },
    });
  });

  it('should drop malformed entries and default what is missing', () => {
    expect(
      parseAuthResponse({ flows: [{ stages: ['a', 3] }, 'junk', { nostages: true }], params: [] }),
    ).toEqual({ session: null, flows: [['a'], []], completed: [], params: {} });
  });

  it('should be null without flows', () => {
    expect(parseAuthResponse({ session: 'xyz' })).toBeNull();
  });
});

describe('uiaOutcome', () => {
  it('should turn the first 401 (no errcode) into AuthRequired', () => {
    const error = parseErrorResponse(
      401,
      undefined,
      JSON.stringify({ session: 's', flows: [{ stages: ['m.login.password'] }], params: {} }),
      endpoint,
    );
    expect(error).toBeInstanceOf(MatrixHttpError);
    expect(uiaOutcome(error, 'm1')).toEqual({
      kind: 'AuthRequired',
      session: 's',
      flows: [['m.login.password']],
      completed: [],
      params: {},
      clientMutationId: 'm1',
    });
  });

  it('should make a failed stage (401 with an errcode) FORBIDDEN, keeping the errcode', () => {
    const error = parseErrorResponse(
      401,
      undefined,
      JSON.stringify({
        errcode: 'M_FORBIDDEN',
        error: 'Invalid password',
        session: 's',
        flows: [{ stages: ['m.login.password'] }],
      }),
      endpoint,
    );
    expect(error).toBeInstanceOf(MatrixApiError);
    const outcome = uiaOutcome(error, null);
    expect(outcome).toMatchObject({
      message: 'Invalid password',
      extensions: { code: 'FORBIDDEN', matrix: { errcode: 'M_FORBIDDEN', status: 401 } },
    });
  });

  it('should leave other errors to the central mapping', () => {
    const tokenRefused = parseErrorResponse(
      401,
      undefined,
      JSON.stringify({ errcode: 'M_UNKNOWN_TOKEN', error: 'Unknown token' }),
      endpoint,
    );
    expect(uiaOutcome(tokenRefused, null)).toBeNull();
    expect(uiaOutcome(parseErrorResponse(401, undefined, '<html>', endpoint), null)).toBeNull();
    expect(uiaOutcome(new Error('boom'), null)).toBeNull();
  });
});
