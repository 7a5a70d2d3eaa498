/**
 * Wire-level checks of what the Upstream puts on the wire, with an undici MockAgent in place of
 * the network. Behaviour against a homeserver is tested against the real Synapse instead.
 */
import { MockAgent } from 'undici';
import { describe, expect, it, vi } from 'vitest';
import { login, whoami } from '../../../src/matrix/account.ts';
import { Upstream } from '../../../src/matrix/http.ts';
import { sync } from '../../../src/matrix/sync.ts';

const origin = 'http://hs.test';
const token = 'syt_dGVzdA_secretsecret_1a2b3c';

interface Sent {
  path: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
}

/**
 * An Upstream over a MockAgent that answers `reply` to every request, `delayMs` after receiving
 * it, and records them.
 */
function mockUpstream(
  reply: { statusCode: number; data: object | string } = { statusCode: 200, data: {} },
  { homeserverUrl = origin, delayMs = 0 }: { homeserverUrl?: string; delayMs?: number } = {},
) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const sent: Sent[] = [];
  const interceptor = agent
    .get(origin)
    .intercept({ path: () => true, method: () => true })
    .reply((options) => {
      sent.push({
        path: options.path,
        method: options.method,
        headers: { ...(options.headers as Record<string, string>) },
        body: typeof options.body === 'string' ? options.body : null,
      });
      return { ...reply, responseOptions: { headers: { 'content-type': 'application/json' } } };
    });
  if (delayMs > 0) {
    interceptor.delay(delayMs);
  }
  interceptor.persist();
  const upstream = new Upstream({ homeserverUrl, dispatcher: agent });
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
