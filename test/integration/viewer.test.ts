import { describe, expect, it } from 'vitest';
import { login, logout } from '../../src/matrix/account.ts';
import { graphql } from '../generated/gql.ts';
import { startFacade } from '../support/facade.ts';
import { newUpstream, newUser } from '../support/homeserver.ts';

const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      userId
      deviceId
    }
  }
`);

describe('viewer', () => {
  it('should return the caller identified by their access token', async () => {
    await using facade = startFacade();
    const alice = await newUser('alice');
    const result = await facade.graphql(ViewerQuery, { token: alice.accessToken });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ viewer: { userId: alice.userId, deviceId: alice.deviceId } });
    expect(facade.upstream.requests).toEqual(['GET /_matrix/client/v3/account/whoami']);
  });

  it('should tell apart two callers in concurrent requests', async () => {
    await using facade = startFacade();
    const [alice, bob] = await Promise.all([newUser('alice'), newUser('bob')]);
    const [forAlice, forBob] = await Promise.all([
      facade.graphql(ViewerQuery, { token: alice.accessToken }),
      facade.graphql(ViewerQuery, { token: bob.accessToken }),
    ]);
    expect(forAlice.data?.viewer.userId).toBe(alice.userId);
    expect(forBob.data?.viewer.userId).toBe(bob.userId);
  });

  it('should answer UNAUTHENTICATED without calling the homeserver when no token is sent', async () => {
    await using facade = startFacade();
    const result = await facade.graphql(ViewerQuery);
    expect(result.data).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]).toMatchObject({
      path: ['viewer'],
      extensions: { code: 'UNAUTHENTICATED' },
    });
    expect(facade.upstream.count()).toBe(0);
  });

  it('should treat an Authorization header of another scheme as no token', async () => {
    await using facade = startFacade();
    const response = await facade.app.yoga.fetch('http://facade.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic YWxpY2U6cHc=' },
      body: JSON.stringify({ query: '{ viewer { userId } }' }),
    });
    const result = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(result.errors[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect(facade.upstream.count()).toBe(0);
  });

  it('should keep the Matrix errcode and status for an unknown token', async () => {
    await using facade = startFacade();
    const result = await facade.graphql(ViewerQuery, { token: 'syt_not_a_real_token' });
    expect(result.errors?.[0]).toMatchObject({
      path: ['viewer'],
      extensions: { code: 'UNAUTHENTICATED', matrix: { errcode: 'M_UNKNOWN_TOKEN', status: 401 } },
    });
    expect(JSON.stringify(result)).not.toMatch(/stack|http:\/\/127/);
  });

  it('should refuse a token after its session logged out', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const alice = await newUser('alice');
    const session = await login(upstream.client(null), {
      user: alice.userId,
      password: alice.password,
    });
    const before = await facade.graphql(ViewerQuery, { token: session.accessToken });
    expect(before.data?.viewer.deviceId).toBe(session.deviceId);

    await logout(upstream.client(session.accessToken));
    const after = await facade.graphql(ViewerQuery, { token: session.accessToken });
    expect(after.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('should map an unreachable homeserver to UPSTREAM_UNAVAILABLE without leaking the address', async () => {
    await using facade = startFacade({
      MATRIX_HOMESERVER_URL: 'http://127.0.0.1:9',
      UPSTREAM_MAX_ATTEMPTS: '1',
    });
    const result = await facade.graphql(ViewerQuery, { token: 'any' });
    expect(result.errors?.[0]).toMatchObject({
      message: 'The homeserver could not be reached.',
      extensions: { code: 'UPSTREAM_UNAVAILABLE' },
    });
    expect(JSON.stringify(result)).not.toContain('127.0.0.1');
  });
});

describe('http endpoints', () => {
  it('should answer the health check', async () => {
    await using facade = startFacade();
    const response = await facade.app.yoga.fetch('http://facade.test/healthz');
    expect(response.status).toBe(200);
    expect(facade.upstream.count()).toBe(0);
  });

  it('should serve GraphiQL to a browser on /graphql', async () => {
    await using facade = startFacade();
    const response = await facade.app.yoga.fetch('http://facade.test/graphql', {
      headers: { accept: 'text/html' },
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('GraphiQL');
  });

  it('should reject a malformed query with a GraphQL error and no upstream call', async () => {
    await using facade = startFacade();
    const result = await facade.graphql('{ viewer { userId ', { token: 'any' });
    expect(result.errors?.[0]?.message).toMatch(/Syntax Error/);
    expect(facade.upstream.count()).toBe(0);
  });
});
