/**
 * Wire-level checks of what the Upstream puts on the wire, with an undici MockAgent in place of
 * the network. Behaviour against a homeserver is tested against the real Synapse instead.
 */
import { MockAgent } from 'undici';
import { describe, expect, it, vi } from 'vitest';
import { getProfile, login, whoami } from '../../../src/matrix/account.ts';
import { ConnectionError, MatrixApiError, MatrixHttpError } from '../../../src/matrix/errors.ts';
import { Upstream, type UpstreamOptions } from '../../../src/matrix/http.ts';
import { getRoomState } from '../../../src/matrix/room-state.ts';
import { sync } from '../../../src/matrix/sync.ts';

const origin = 'http://hs.test';
const token = 'syt_dGVzdA_secretsecret_1a2b3c';

interface Sent {
  path: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
}

interface Reply {
  statusCode: number;
  data: object | string;
}

/**
 * An Upstream over a MockAgent that answers `reply` to every request (or what `reply` makes of
 * it), `delayMs` after receiving it, and records them.
 */
function mockUpstream(
  reply: Reply | ((request: Sent) => Reply) = { statusCode: 200, data: {} },
  {
    homeserverUrl = origin,
    delayMs = 0,
    options = {},
  }: { homeserverUrl?: string; delayMs?: number; options?: Partial<UpstreamOptions> } = {},
) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const sent: Sent[] = [];
  const interceptor = agent
    .get(origin)
    .intercept({ path: () => true, method: () => true })
    .reply((options) => {
      const request: Sent = {
        path: options.path,
        method: options.method,
        headers: { ...(options.headers as Record<string, string>) },
        body: typeof options.body === 'string' ? options.body : null,
      };
      sent.push(request);
      return {
        ...(typeof reply === 'function' ? reply(request) : reply),
        responseOptions: { headers: { 'content-type': 'application/json' } },
      };
    });
  if (delayMs > 0) {
    interceptor.delay(delayMs);
  }
  interceptor.persist();
  const upstream = new Upstream({ homeserverUrl, dispatcher: agent, ...options });
  return {
    upstream,
    sent,
    async [Symbol.asyncDispose]() {
      await agent.close();
    },
  };
}

describe('Upstream on the wire', () => {
  it('should send the token in the Authorization header only, never in the URL', async () => {
    await using mock = mockUpstream({ statusCode: 200, data: { next_batch: 's2' } });

    await sync(mock.upstream.client(token), { since: 's1', timeoutMs: 1000 });

    expect(mock.sent).toHaveLength(1);
    const [request] = mock.sent;
    expect(request?.headers['authorization']).toBe(`Bearer ${token}`);
    expect(request?.path).toBe('/_matrix/client/v3/sync?since=s1&timeout=1000');
    expect(request?.path).not.toContain(token);
  });

  it('should send an anonymous request without any Authorization header', async () => {
    await using mock = mockUpstream({
      statusCode: 200,
      data: { user_id: '@a:hs.test', access_token: 'new', device_id: 'D' },
    });

    await login(mock.upstream.client(token), { user: 'a', password: 'hunter2' });

    const [request] = mock.sent;
    expect(request?.method).toBe('POST');
    expect(request?.headers).not.toHaveProperty('authorization');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request?.body ?? 'null')).toMatchObject({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'a' },
      password: 'hunter2',
    });
  });

  it("should keep the homeserver URL's path in front of the API path", async () => {
    await using mock = mockUpstream(
      { statusCode: 200, data: { user_id: '@a:hs.test' } },
      { homeserverUrl: `${origin}/matrix/` },
    );

    await whoami(mock.upstream.client(token));

    expect(mock.sent.map((request) => request.path)).toEqual([
      '/matrix/_matrix/client/v3/account/whoami',
    ]);
  });

  it('should not reveal the token when a client is serialised', () => {
    const upstream = new Upstream({ homeserverUrl: origin, dispatcher: new MockAgent() });
    expect(JSON.stringify(upstream.client(token))).not.toContain(token);
  });
});

describe('Upstream.withRetryPolicy', () => {
  it('should send through the same pool with its own retry policy', async () => {
    await using mock = mockUpstream({ statusCode: 502, data: 'bad gateway' });
    const once = mock.upstream.withRetryPolicy({ maxAttempts: 1 });
    await expect(whoami(once.client(token))).rejects.toMatchObject({ status: 502 });
    expect(mock.sent).toHaveLength(1);

    const fast = mock.upstream.withRetryPolicy({ maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 });
    await expect(whoami(fast.client(token))).rejects.toMatchObject({ status: 502 });
    expect(mock.sent).toHaveLength(4);
  });
});

describe('Upstream.client bound to a signal', () => {
  const whoamiReply = { statusCode: 200, data: { user_id: '@a:hs.test' } };

  it('should reject with the reason and send nothing when the signal has already aborted', async () => {
    await using mock = mockUpstream(whoamiReply);
    const controller = new AbortController();
    const reason = new Error('the GraphQL request went away');
    controller.abort(reason);

    const client = mock.upstream.client(token, { signal: controller.signal });

    await expect(whoami(client)).rejects.toBe(reason);
    expect(mock.sent).toHaveLength(0);
  });

  it('should reject a call in flight with the reason when the signal aborts', async () => {
    await using mock = mockUpstream(whoamiReply, { delayMs: 1000 });
    const controller = new AbortController();
    const reason = new Error('the GraphQL request went away');
    const client = mock.upstream.client(token, { signal: controller.signal });

    const call = whoami(client);
    await vi.waitFor(() => expect(mock.sent).toHaveLength(1));
    controller.abort(reason);

    await expect(call).rejects.toBe(reason);
  });

  it('should still end a call on its own signal, leaving the bound one alone', async () => {
    await using mock = mockUpstream(whoamiReply, { delayMs: 1000 });
    const bound = new AbortController();
    const perCall = new AbortController();
    const reason = new Error('this call only');
    const client = mock.upstream.client(token, { signal: bound.signal });

    const call = whoami(client, { signal: perCall.signal });
    await vi.waitFor(() => expect(mock.sent).toHaveLength(1));
    perCall.abort(reason);

    await expect(call).rejects.toBe(reason);
    expect(bound.signal.aborted).toBe(false);
  });

  it('should answer as usual while neither signal aborts', async () => {
    await using mock = mockUpstream(whoamiReply);
    const client = mock.upstream.client(token, { signal: new AbortController().signal });

    await expect(whoami(client, { signal: new AbortController().signal })).resolves.toMatchObject({
      userId: '@a:hs.test',
    });
    expect(mock.sent).toHaveLength(1);
  });
});

describe('Upstream answers of the wrong shape', () => {
  it.each([
    ['an array', [1, 2]],
    ['a string', '"hello"'],
    ['null', 'null'],
  ])(
    'should fail as malformed when an object is expected and the body is %s',
    async (_name, data) => {
      await using mock = mockUpstream({ statusCode: 200, data: data as object | string });

      const error = await whoami(mock.upstream.client(token)).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(MatrixHttpError);
      expect(error).toMatchObject({ status: 200, malformed: 'not a JSON object' });
      // Not retried: the same request would get the same answer.
      expect(mock.sent).toHaveLength(1);
    },
  );

  it('should accept an array where the endpoint returns one, and refuse an object there', async () => {
    await using arrays = mockUpstream({ statusCode: 200, data: [] });
    expect(await getRoomState(arrays.upstream.client(token), '!r:hs.test')).toEqual([]);

    await using objects = mockUpstream({ statusCode: 200, data: {} });
    await expect(getRoomState(objects.upstream.client(token), '!r:hs.test')).rejects.toMatchObject({
      name: 'MatrixHttpError',
      malformed: 'not a JSON array',
    });
  });

  it('should fail a /sync without a string next_batch as malformed, not read it as a position', async () => {
    await using mock = mockUpstream({ statusCode: 200, data: {} });

    const error = await sync(mock.upstream.client(token)).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(MatrixHttpError);
    expect(error).toMatchObject({ status: 200, malformed: 'next_batch is not a string' });
    expect((error as Error).message).not.toContain(token);
  });
});

describe('Upstream response size cap', () => {
  it('should fail a body larger than maxResponseBytes as a too-large ConnectionError', async () => {
    await using mock = mockUpstream(
      { statusCode: 200, data: { user_id: '@a:hs.test', padding: 'x'.repeat(2048) } },
      { options: { maxResponseBytes: 1024 } },
    );

    const error = await whoami(mock.upstream.client(token)).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ failure: 'too-large' });
    expect(mock.sent).toHaveLength(1);
  });

  it('should read a body up to the cap', async () => {
    await using mock = mockUpstream(
      { statusCode: 200, data: { user_id: '@a:hs.test' } },
      { options: { maxResponseBytes: 1024 } },
    );
    expect(await whoami(mock.upstream.client(token))).toMatchObject({ userId: '@a:hs.test' });
  });
});

describe('Upstream total timeout', () => {
  it('should fail a call that takes longer than totalMs as a timeout, headers and body alike', async () => {
    await using mock = mockUpstream(
      { statusCode: 200, data: { user_id: '@a:hs.test' } },
      { delayMs: 5000, options: { timeouts: { totalMs: 50 } } },
    );

    const error = await whoami(mock.upstream.client(token)).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ failure: 'timeout' });
    // A timed-out call already used its budget: no retry.
    expect(mock.sent).toHaveLength(1);
  });

  it('should give a long-poll its hold time on top of the total', async () => {
    await using mock = mockUpstream(
      { statusCode: 200, data: { next_batch: 's2' } },
      { delayMs: 100, options: { timeouts: { totalMs: 50 } } },
    );
    expect((await sync(mock.upstream.client(token), { timeoutMs: 1000 })).nextBatch).toBe('s2');
  });

  it("should still reject with the caller's own reason when the caller aborts first", async () => {
    await using mock = mockUpstream(
      { statusCode: 200, data: {} },
      { delayMs: 5000, options: { timeouts: { totalMs: 60_000 } } },
    );
    const controller = new AbortController();
    const reason = new Error('gone');
    const call = whoami(mock.upstream.client(token), { signal: controller.signal });
    await vi.waitFor(() => expect(mock.sent).toHaveLength(1));
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
  });
});

describe('Upstream per-token concurrency', () => {
  const profile = { statusCode: 200, data: { displayname: 'A' } };

  it("should hold a token's calls past the cap while another token's go out at once", async () => {
    await using mock = mockUpstream(profile, {
      delayMs: 200,
      options: { perTokenConcurrency: 2 },
    });
    const alice = mock.upstream.client('alice-token');
    const bob = mock.upstream.client('bob-token');

    const heavy = Array.from({ length: 6 }, (_, index) => getProfile(alice, `@u${index}:hs.test`));
    await vi.waitFor(() => expect(mock.sent).toHaveLength(2));
    const light = getProfile(bob, '@bob:hs.test');
    await vi.waitFor(() => expect(mock.sent).toHaveLength(3));

    expect(mock.sent.map((request) => request.headers['authorization'])).toEqual([
      'Bearer alice-token',
      'Bearer alice-token',
      'Bearer bob-token',
    ]);
    await light;
    await Promise.all(heavy);
    expect(mock.sent).toHaveLength(7);
  });

  it('should not cap with perTokenConcurrency: Infinity', async () => {
    await using mock = mockUpstream(profile, {
      delayMs: 100,
      options: { perTokenConcurrency: Number.POSITIVE_INFINITY },
    });
    const client = mock.upstream.client(token);
    const calls = Array.from({ length: 10 }, () => getProfile(client, '@a:hs.test'));
    await vi.waitFor(() => expect(mock.sent).toHaveLength(10));
    await Promise.all(calls);
  });
});

describe('MatrixClient and a refused token', () => {
  const refused = { statusCode: 401, data: { errcode: 'M_UNKNOWN_TOKEN', error: 'Invalid' } };

  it('should start no call after the homeserver refused the token, failing each with that error', async () => {
    await using mock = mockUpstream(refused);
    const client = mock.upstream.client(token);

    const first = await whoami(client).catch((caught: unknown) => caught);
    const second = await getProfile(client, '@a:hs.test').catch((caught: unknown) => caught);

    expect(first).toBeInstanceOf(MatrixApiError);
    expect(second).toBe(first);
    expect(client.refusal).toBe(first);
    expect(mock.sent).toHaveLength(1);
  });

  it('should send one call with awaitFirstAnswer and fail the others waiting on it alike', async () => {
    await using mock = mockUpstream(refused, { delayMs: 20 });
    const client = mock.upstream.client(token, { awaitFirstAnswer: true });

    const errors = await Promise.all(
      [whoami(client), getProfile(client, '@a:hs.test'), getProfile(client, '@b:hs.test')].map(
        (call) => call.catch((caught: unknown) => caught),
      ),
    );

    expect(mock.sent).toHaveLength(1);
    expect(errors[0]).toMatchObject({ status: 401, errcode: 'M_UNKNOWN_TOKEN' });
    expect(errors[1]).toBe(errors[0]);
    expect(errors[2]).toBe(errors[0]);
  });

  it('should let the other calls go out together once the first answer accepts the token', async () => {
    await using mock = mockUpstream(
      (request) =>
        request.path.endsWith('/whoami')
          ? { statusCode: 200, data: { user_id: '@a:hs.test' } }
          : { statusCode: 200, data: { displayname: 'B' } },
      { delayMs: 100 },
    );
    const client = mock.upstream.client(token, { awaitFirstAnswer: true });

    const first = whoami(client);
    const others = [getProfile(client, '@b:hs.test'), getProfile(client, '@c:hs.test')];
    await vi.waitFor(() => expect(mock.sent).toHaveLength(1));
    await first;
    // Both at once, not one after the other.
    await vi.waitFor(() => expect(mock.sent).toHaveLength(3));
    await Promise.all(others);
  });

  it('should treat another 401 (user-interactive auth) as no refusal of the token', async () => {
    await using mock = mockUpstream({
      statusCode: 401,
      data: { errcode: 'M_FORBIDDEN', error: 'Invalid password', flows: [] },
    });
    const client = mock.upstream.client(token);
    await expect(whoami(client)).rejects.toMatchObject({ status: 401 });
    await expect(whoami(client)).rejects.toMatchObject({ status: 401 });
    expect(client.refusal).toBeNull();
    expect(mock.sent).toHaveLength(2);
  });

  it('should let a waiting call go when its own signal aborts', async () => {
    await using mock = mockUpstream(refused, { delayMs: 1000 });
    const client = mock.upstream.client(token, { awaitFirstAnswer: true });
    const first = whoami(client).catch((caught: unknown) => caught);
    const reason = new Error('this call only');
    const controller = new AbortController();
    const waiting = getProfile(client, '@a:hs.test', { signal: controller.signal });
    controller.abort(reason);

    await expect(waiting).rejects.toBe(reason);
    expect(await first).toMatchObject({ status: 401 });
    expect(mock.sent).toHaveLength(1);
  });
});
