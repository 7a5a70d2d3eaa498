import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { login } from '../../src/matrix/account.ts';
import { clientPath } from '../../src/matrix/paths.ts';
import { graphql } from '../generated/gql.ts';
import type { CreateSessionInput } from '../generated/graphql.ts';
import { startFacade } from '../support/facade.ts';
import { newUpstream, newUser } from '../support/homeserver.ts';

const CreateSession = graphql(`
  mutation CreateSession($input: CreateSessionInput!) {
    createSession(input: $input) {
      clientMutationId
      accessToken
      userId
      deviceId
    }
  }
`);

const DeleteSession = graphql(`
  mutation DeleteSession {
    deleteSession(input: {}) {
      deleted
    }
  }
`);

const SessionViewer = graphql(`
  query SessionViewer {
    viewer {
      userId
      deviceId
    }
  }
`);

/** A pino destination that keeps every line written to it. */
function captureLines() {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) } };
}

describe('createSession', () => {
  it('should log in with a full user ID and give a token that works for viewer', async () => {
    await using facade = startFacade();
    const alice = await newUser('alice');
    const result = await facade.graphql(CreateSession, {
      variables: {
        input: { user: alice.userId, password: alice.password, clientMutationId: 'login-1' },
      },
    });
    expect(result.errors).toBeUndefined();
    const session = result.data?.createSession;
    expect(session).toEqual({
      clientMutationId: 'login-1',
      accessToken: expect.any(String),
      userId: alice.userId,
      deviceId: expect.any(String),
    });
    // A new session: a new token and device, not the registration's.
    expect(session?.accessToken).not.toBe(alice.accessToken);
    expect(session?.deviceId).not.toBe(alice.deviceId);
    expect(facade.upstream.requests).toEqual(['POST /_matrix/client/v3/login']);

    const viewer = await facade.graphql(SessionViewer, { token: session?.accessToken ?? '' });
    expect(viewer.errors).toBeUndefined();
    expect(viewer.data?.viewer).toEqual({ userId: alice.userId, deviceId: session?.deviceId });
  });

  it('should log in with just the localpart', async () => {
    await using facade = startFacade();
    const bob = await newUser('bob');
    const result = await facade.graphql(CreateSession, {
      variables: { input: { user: bob.localpart, password: bob.password } },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.createSession?.userId).toBe(bob.userId);

    const viewer = await facade.graphql(SessionViewer, {
      token: result.data?.createSession?.accessToken ?? '',
    });
    expect(viewer.data?.viewer.userId).toBe(bob.userId);
  });

  it('should name the new device and keep a device ID the client chose', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const carol = await newUser('carol');
    // The longest name allowed: Synapse takes 100 characters and refuses 101.
    const deviceName = "Carol's phone ".padEnd(100, '.');
    const result = await facade.graphql(CreateSession, {
      variables: {
        input: {
          user: carol.userId,
          password: carol.password,
          deviceId: 'CAROLPHONE',
          deviceName,
        },
      },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.createSession?.deviceId).toBe('CAROLPHONE');

    const device = await upstream
      .client(result.data?.createSession?.accessToken ?? '')
      .send<{ device_id: string; display_name?: string }>({
        method: 'GET',
        path: clientPath`/devices/${'CAROLPHONE'}`,
      });
    expect(device).toMatchObject({ device_id: 'CAROLPHONE', display_name: deviceName });
  });

  it('should ignore a bearer token sent along: createSession needs none', async () => {
    await using facade = startFacade();
    const dave = await newUser('dave');
    const result = await facade.graphql(CreateSession, {
      token: 'syt_not_a_real_token',
      variables: { input: { user: dave.userId, password: dave.password } },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.createSession?.userId).toBe(dave.userId);
  });

  it('should answer UNAUTHENTICATED with the Matrix errcode for a wrong password', async () => {
    await using facade = startFacade();
    const erin = await newUser('erin');
    const result = await facade.graphql(CreateSession, {
      variables: { input: { user: erin.userId, password: `${erin.password}-wrong` } },
    });
    expect(result.data).toEqual({ createSession: null });
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]).toMatchObject({
      path: ['createSession'],
      extensions: { code: 'UNAUTHENTICATED', matrix: { errcode: 'M_FORBIDDEN', status: 403 } },
    });
    expect(result.errors?.[0]?.message).not.toMatch(/Unexpected/);
    expect(facade.upstream.count()).toBe(1);
  });

  it('should answer UNAUTHENTICATED for a user that does not exist', async () => {
    await using facade = startFacade();
    const result = await facade.graphql(CreateSession, {
      variables: { input: { user: 'nobody-here-at-all', password: 'whatever' } },
    });
    expect(result.errors?.[0]).toMatchObject({
      path: ['createSession'],
      extensions: { code: 'UNAUTHENTICATED', matrix: { errcode: 'M_FORBIDDEN', status: 403 } },
    });
  });

  const invalidInputs: { name: string; field: string; input: CreateSessionInput }[] = [
    { name: 'an empty password', field: 'password', input: { user: 'alice', password: '' } },
    { name: 'a blank user', field: 'user', input: { user: '  ', password: 'secret' } },
    { name: 'a malformed user ID', field: 'user', input: { user: '@alice', password: 'secret' } },
    {
      name: 'a blank device ID',
      field: 'deviceId',
      input: { user: 'alice', password: 'secret', deviceId: ' ' },
    },
    {
      // Synapse's own bound (M_TOO_LARGE above 100), checked before the call.
      name: 'a device name over 100 characters',
      field: 'deviceName',
      input: { user: 'alice', password: 'secret', deviceName: 'd'.repeat(101) },
    },
  ];

  for (const { name, field, input } of invalidInputs) {
    it(`should refuse ${name} with BAD_USER_INPUT and no upstream call`, async () => {
      await using facade = startFacade();
      const result = await facade.graphql(CreateSession, { variables: { input } });
      expect(result.data).toEqual({ createSession: null });
      expect(result.errors?.[0]).toMatchObject({
        path: ['createSession'],
        extensions: { code: 'BAD_USER_INPUT', field },
      });
      expect(facade.upstream.count()).toBe(0);
    });
  }
});

describe('deleteSession', () => {
  it('should invalidate the caller’s token and no other session', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const frank = await newUser('frank');
    const session = await login(upstream.client(null), {
      user: frank.userId,
      password: frank.password,
    });

    const result = await facade.graphql(DeleteSession, { token: session.accessToken });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ deleteSession: { deleted: true } });

    const after = await facade.graphql(SessionViewer, { token: session.accessToken });
    expect(after.data).toBeNull();
    expect(after.errors?.[0]).toMatchObject({
      path: ['viewer'],
      extensions: { code: 'UNAUTHENTICATED', matrix: { errcode: 'M_UNKNOWN_TOKEN', status: 401 } },
    });
    const again = await facade.graphql(DeleteSession, { token: session.accessToken });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });

    const other = await facade.graphql(SessionViewer, { token: frank.accessToken });
    expect(other.data?.viewer.userId).toBe(frank.userId);
  });

  it('should answer UNAUTHENTICATED without a token, before any upstream call', async () => {
    await using facade = startFacade();
    const result = await facade.graphql(DeleteSession);
    expect(result.errors?.[0]).toMatchObject({
      path: ['deleteSession'],
      extensions: { code: 'UNAUTHENTICATED' },
    });
    expect(facade.upstream.count()).toBe(0);
  });
});

describe('session logs', () => {
  it('should never write a password or an access token, even at debug level', async () => {
    const { lines, destination } = captureLines();
    const logger = createLogger('debug', destination);
    const grace = await newUser('grace');
    const wrongPassword = `${grace.password}-wrong`;
    const secrets = [grace.password, wrongPassword];
    {
      await using facade = startFacade({}, { logger });
      const wrong = await facade.graphql(CreateSession, {
        variables: { input: { user: grace.userId, password: wrongPassword } },
      });
      expect(wrong.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

      const loggedIn = await facade.graphql(CreateSession, {
        variables: { input: { user: grace.localpart, password: grace.password } },
      });
      const token = loggedIn.data?.createSession?.accessToken ?? '';
      expect(token).not.toBe('');
      secrets.push(token);
      expect((await facade.graphql(SessionViewer, { token })).data?.viewer.userId).toBe(
        grace.userId,
      );
      expect((await facade.graphql(DeleteSession, { token })).data?.deleteSession?.deleted).toBe(
        true,
      );
    }
    {
      // An upstream failure is logged by yoga with the whole error: the login must not be in it.
      await using facade = startFacade(
        { MATRIX_HOMESERVER_URL: 'http://127.0.0.1:9', UPSTREAM_MAX_ATTEMPTS: '1' },
        { logger },
      );
      const unreachable = await facade.graphql(CreateSession, {
        variables: { input: { user: grace.userId, password: grace.password } },
      });
      expect(unreachable.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    }

    // The capture saw the traffic: debug lines for each upstream call, and the error line.
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(
      entries.filter(
        (entry) =>
          entry['msg'] === 'upstream request' && entry['path'] === '/_matrix/client/v3/login',
      ),
    ).toHaveLength(3);
    expect(entries.some((entry) => entry['level'] === 50)).toBe(true);
    expect(
      entries.some((entry) => entry['level'] === 20 && entry['msg'] !== 'upstream request'),
    ).toBe(true);
    for (const secret of secrets) {
      for (const line of lines) {
        expect(line).not.toContain(secret);
      }
    }
  });
});
