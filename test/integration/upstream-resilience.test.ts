/**
 * How the upstream client behaves when the homeserver, or whatever stands in front of it, fails:
 * the fault proxy sits between an Upstream and the real Synapse and counts what got through.
 */
import { createServer } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { login, whoami } from '../../src/matrix/account.ts';
import { ConnectionError, MatrixApiError, MatrixHttpError } from '../../src/matrix/errors.ts';
import type { UpstreamLogger, UpstreamOptions } from '../../src/matrix/http.ts';
import type { RetryPolicy } from '../../src/matrix/retry.ts';
import { getMessages, sendMessageEvent } from '../../src/matrix/room-events.ts';
import { createRoom, getJoinedRooms } from '../../src/matrix/rooms.ts';
import { sync } from '../../src/matrix/sync.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { homeserver, newUpstream, newUser } from '../support/homeserver.ts';

/** Short backoffs keep the tests fast; the server's own delays (Retry-After) are not shortened. */
const fastRetry = {
  maxAttempts: 3,
  baseDelayMs: 10,
  maxDelayMs: 50,
  maxTotalDelayMs: 15_000,
} satisfies RetryPolicy;

const whoamiPath = /\/account\/whoami$/;
const joinedRoomsPath = /\/joined_rooms$/;

interface LogEntry {
  level: 'debug' | 'warn';
  message: string;
  fields: Record<string, unknown>;
}

function collectLogs() {
  const entries: LogEntry[] = [];
  const logger: UpstreamLogger = {
    debug: (fields, message) => entries.push({ level: 'debug', message, fields: { ...fields } }),
    warn: (fields, message) => entries.push({ level: 'warn', message, fields: { ...fields } }),
  };
  return {
    entries,
    logger,
    /** The one line per request sent upstream. */
    requests: () => entries.filter((e) => e.message === 'upstream request').map((e) => e.fields),
    /** The lines announcing a retry, each with the delay chosen. */
    retries: () => entries.filter((e) => e.level === 'warn').map((e) => e.fields),
  };
}

/** A fresh user, and an Upstream that reaches Synapse only through a fault proxy. */
async function throughProxy(options: Partial<UpstreamOptions> = {}) {
  const proxy = await startFaultProxy(homeserver().url);
  const logs = collectLogs();
  const upstream = newUpstream({
    homeserverUrl: proxy.url,
    retry: fastRetry,
    logger: logs.logger,
    ...options,
  });
  const user = await newUser('resilience');
  return {
    proxy,
    logs,
    upstream,
    user,
    client: upstream.client(user.accessToken),
    async [Symbol.asyncDispose]() {
      await upstream.close();
      await proxy.close();
    },
  };
}

/** The reason `promise` rejected with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (error: unknown) => error,
  );
}

describe.concurrent('upstream resilience', () => {
  describe('rate limiting (429)', () => {
    it('should retry a GET once the Retry-After delay has passed', async () => {
      await using t = await throughProxy();
      t.proxy.inject({ kind: 'rate-limit', retryAfterSeconds: 1 }, { path: whoamiPath });

      const started = performance.now();
      expect(await whoami(t.client)).toMatchObject({ userId: t.user.userId });
      const elapsedMs = performance.now() - started;

      expect(t.proxy.seen).toBe(2);
      expect(t.proxy.requests).toBe(1);
      expect(t.logs.retries()).toEqual([expect.objectContaining({ attempts: 1, delayMs: 1000 })]);
      // Not a performance check: the retry must not go out before the server allows it. Node's
      // timers can fire up to a millisecond early against performance.now().
      expect(elapsedMs).toBeGreaterThanOrEqual(995);
    });

    it('should let the Retry-After header win over retry_after_ms', async () => {
      await using t = await throughProxy();
      // Were the body's 20 s used, it would exceed maxTotalDelayMs and the 429 would surface.
      t.proxy.inject(
        { kind: 'rate-limit', retryAfterSeconds: 1, retryAfterMs: 20_000 },
        { path: joinedRoomsPath },
      );

      expect(await getJoinedRooms(t.client)).toEqual([]);
      expect(t.logs.retries()).toEqual([expect.objectContaining({ delayMs: 1000 })]);
      expect(t.proxy.requests).toBe(1);
    });

    it('should wait retry_after_ms when there is no Retry-After header', async () => {
      await using t = await throughProxy();
      t.proxy.inject({ kind: 'rate-limit', retryAfterMs: 300 }, { path: joinedRoomsPath });

      expect(await getJoinedRooms(t.client)).toEqual([]);
      expect(t.logs.retries()).toEqual([expect.objectContaining({ delayMs: 300 })]);
      expect(t.proxy.requests).toBe(1);
    });

    it('should retry a rate-limited POST, which the server refused before acting on it', async () => {
      await using t = await throughProxy();
      await using direct = newUpstream();
      t.proxy.inject({ kind: 'rate-limit', retryAfterMs: 100 }, { method: 'POST' });

      const { roomId } = await createRoom(t.client, { name: 'rate limited once' });

      expect(t.proxy.seen).toBe(2);
      expect(t.proxy.requests).toBe(1);
      expect(await getJoinedRooms(direct.client(t.user.accessToken))).toEqual([roomId]);
    });

    it('should surface the 429 at once when the server asks for more than the total budget', async () => {
      await using t = await throughProxy();
      t.proxy.inject({ kind: 'rate-limit', retryAfterSeconds: 60 }, { path: whoamiPath });

      const error = await rejection(whoami(t.client));

      expect(error).toBeInstanceOf(MatrixApiError);
      expect(error).toMatchObject({
        status: 429,
        errcode: 'M_LIMIT_EXCEEDED',
        retryAfterMs: 60_000,
      });
      expect(t.proxy.seen).toBe(1);
    });
  });

  describe('5xx from a gateway', () => {
    it('should retry a GET after a 502 and succeed', async () => {
      await using t = await throughProxy();
      t.proxy.inject({ kind: 'status', status: 502 }, { path: joinedRoomsPath });

      expect(await getJoinedRooms(t.client)).toEqual([]);

      expect(t.proxy.seen).toBe(2);
      expect(t.proxy.requests).toBe(1);
      expect(t.logs.requests().map((line) => line['status'])).toEqual([502, 200]);
    });

    it('should not retry createRoom after a 502, since a second POST could create a second room', async () => {
      await using t = await throughProxy();
      t.proxy.inject({ kind: 'status', status: 502 }, { method: 'POST' });

      const error = await rejection(createRoom(t.client, { name: 'never created' }));

      expect(error).toBeInstanceOf(MatrixHttpError);
      expect(error).toMatchObject({ status: 502 });
      expect(t.proxy.seen).toBe(1);
      expect(t.proxy.requests).toBe(0);
    });

    it('should give up after maxAttempts when the 503 persists', async () => {
      await using t = await throughProxy();
      t.proxy.inject({ kind: 'status', status: 503 }, { path: whoamiPath, times: Infinity });

      const error = await rejection(whoami(t.client));

      expect(error).toBeInstanceOf(MatrixHttpError);
      expect(error).toMatchObject({ status: 503 });
      expect(t.proxy.seen).toBe(fastRetry.maxAttempts);
      expect(t.proxy.requests).toBe(0);
      expect(t.logs.retries()).toHaveLength(fastRetry.maxAttempts - 1);
    });
  });

  describe('sending with a transaction ID', () => {
    async function messagesIn(accessToken: string, roomId: string) {
      await using direct = newUpstream();
      const page = await getMessages(direct.client(accessToken), roomId, { dir: 'b', limit: 50 });
      return page.chunk.filter((event) => event.type === 'm.room.message');
    }

    it('should retry a PUT after a 503 and send the message exactly once', async () => {
      await using t = await throughProxy();
      await using direct = newUpstream();
      const { roomId } = await createRoom(direct.client(t.user.accessToken), {});
      t.proxy.inject({ kind: 'status', status: 503 }, { method: 'PUT', path: /\/send\// });

      const { eventId } = await sendMessageEvent(t.client, roomId, 'm.room.message', 'txn-503', {
        msgtype: 'm.text',
        body: 'hello once',
      });

      expect(t.proxy.seen).toBe(2);
      expect(t.proxy.requests).toBe(1);
      const messages = await messagesIn(t.user.accessToken, roomId);
      expect(messages.map((event) => [event.eventId, event.content['body']])).toEqual([
        [eventId, 'hello once'],
      ]);
    });

    it('should send once when the first answer was lost after Synapse acted on it', async () => {
      await using t = await throughProxy();
      await using direct = newUpstream();
      const { roomId } = await createRoom(direct.client(t.user.accessToken), {});
      t.proxy.inject(
        { kind: 'status', status: 503, afterForwarding: true },
        { method: 'PUT', path: /\/send\// },
      );

      const { eventId } = await sendMessageEvent(t.client, roomId, 'm.room.message', 'txn-lost', {
        msgtype: 'm.text',
        body: 'sent twice, stored once',
      });

      // Both tries reached Synapse; the transaction ID made the second a no-op.
      expect(t.proxy.requests).toBe(2);
      const messages = await messagesIn(t.user.accessToken, roomId);
      expect(messages.map((event) => event.eventId)).toEqual([eventId]);
    });
  });

  describe('broken connections', () => {
    it('should retry a GET after a connection reset and succeed', async () => {
      await using t = await throughProxy();
      t.proxy.inject({ kind: 'reset' }, { path: joinedRoomsPath });

      expect(await getJoinedRooms(t.client)).toEqual([]);

      expect(t.proxy.seen).toBe(2);
      expect(t.proxy.requests).toBe(1);
      expect(t.logs.requests().map((line) => line['status'])).toEqual(['reset', 200]);
    });

    it('should not retry createRoom after a connection reset', async () => {
      await using t = await throughProxy();
      t.proxy.inject({ kind: 'reset' }, { method: 'POST' });

      const error = await rejection(createRoom(t.client, { name: 'never created' }));

      expect(error).toBeInstanceOf(ConnectionError);
      expect(error).toMatchObject({ failure: 'reset' });
      expect(t.proxy.seen).toBe(1);
      expect(t.proxy.requests).toBe(0);
    });

    it('should fail with a timeout, not retried, when the answer is later than headersMs', async () => {
      await using t = await throughProxy({ timeouts: { headersMs: 300 } });
      // undici checks headers timeouts on a ~0.5 s tick, so the delay leaves a wide margin.
      t.proxy.inject({ kind: 'delay', ms: 5000 }, { path: whoamiPath });

      const error = await rejection(whoami(t.client));

      expect(error).toBeInstanceOf(ConnectionError);
      expect(error).toMatchObject({ failure: 'timeout' });
      expect(t.proxy.seen).toBe(1);
      expect(t.logs.requests().map((line) => line['status'])).toEqual(['timeout']);
    });

    it('should fail with a connect failure when nothing listens', async () => {
      const port = await closedPort();
      const logs = collectLogs();
      await using upstream = newUpstream({
        homeserverUrl: `http://127.0.0.1:${port}`,
        retry: fastRetry,
        logger: logs.logger,
      });

      const error = await rejection(whoami(upstream.client('no-token-needed')));

      expect(error).toBeInstanceOf(ConnectionError);
      expect(error).toMatchObject({ failure: 'connect' });
      // Nothing was sent, so the GET was tried as often as the policy allows.
      expect(logs.requests().map((line) => line['status'])).toEqual(
        Array(fastRetry.maxAttempts).fill('connect'),
      );
    });

    it('should reject a 200 whose body is not JSON', async () => {
      await using t = await throughProxy();
      t.proxy.inject({ kind: 'non-json' }, { path: whoamiPath });

      const error = await rejection(whoami(t.client));

      expect(error).toBeInstanceOf(MatrixHttpError);
      expect(error).toMatchObject({ status: 200, bodySnippet: 'this is not JSON' });
      expect(t.proxy.seen).toBe(1);
    });
  });

  describe("the caller's abort", () => {
    it('should reject a held long-poll with exactly the abort reason, leaving other calls alone', async () => {
      await using t = await throughProxy();
      t.proxy.inject({ kind: 'hold' }, { path: /\/sync\?/, times: 2 });
      const controller = new AbortController();
      const reason = new Error('the subscriber went away');

      const aborted = rejection(sync(t.client, { timeoutMs: 20_000, signal: controller.signal }));
      const other = sync(t.client, { timeoutMs: 0 });
      await vi.waitFor(() => expect(t.proxy.seen).toBe(2), 5000);
      controller.abort(reason);

      expect(await aborted).toBe(reason);
      // The abort hung up on the proxy too, rather than leaving the poll dangling.
      await vi.waitFor(() => expect(t.proxy.held).toBe(1), 5000);
      t.proxy.release();
      expect((await other).nextBatch).toEqual(expect.any(String));
      // The aborted poll never reached Synapse; the released one did, once.
      expect(t.proxy.requests).toBe(1);
    });

    it('should reject with the abort reason while waiting to retry', async () => {
      await using t = await throughProxy({
        retry: { ...fastRetry, baseDelayMs: 20_000, maxDelayMs: 20_000, maxTotalDelayMs: 60_000 },
      });
      t.proxy.inject({ kind: 'status', status: 503 }, { path: joinedRoomsPath, times: Infinity });
      const controller = new AbortController();
      const reason = new Error('the request was cancelled');

      const call = rejection(getJoinedRooms(t.client, { signal: controller.signal }));
      await vi.waitFor(() => expect(t.logs.retries()).toHaveLength(1), 5000);
      controller.abort(reason);

      expect(await call).toBe(reason);
      expect(t.proxy.seen).toBe(1);
    });
  });

  describe('logging', () => {
    it('should log each request once with blank query values and no token or password', async () => {
      await using t = await throughProxy();
      t.proxy.inject({ kind: 'reset' }, { path: whoamiPath });
      t.proxy.inject(
        { kind: 'rate-limit', retryAfterMs: 10 },
        { method: 'POST', path: /\/login$/ },
      );

      await whoami(t.client);
      const first = await sync(t.client);
      await sync(t.client, { since: first.nextBatch });
      const session = await login(t.upstream.client(null), {
        user: t.user.userId,
        password: t.user.password,
      });
      await whoami(t.upstream.client(session.accessToken));

      const lines = t.logs.requests();
      expect(lines).toHaveLength(t.proxy.seen);
      for (const line of lines) {
        expect(line).toEqual({
          requestId: expect.any(Number),
          method: expect.any(String),
          path: expect.any(String),
          status: expect.anything(),
          durationMs: expect.any(Number),
        });
      }
      const prefix = '/_matrix/client/v3';
      expect(lines.map(({ method, path, status }) => `${method} ${path} ${status}`)).toEqual([
        `GET ${prefix}/account/whoami reset`,
        `GET ${prefix}/account/whoami 200`,
        `GET ${prefix}/sync?timeout= 200`,
        `GET ${prefix}/sync?since=&timeout= 200`,
        `POST ${prefix}/login 429`,
        `POST ${prefix}/login 200`,
        `GET ${prefix}/account/whoami 200`,
      ]);
      expect(t.logs.retries()).toHaveLength(2);

      const logged = JSON.stringify(t.logs.entries);
      for (const secret of [
        t.user.accessToken,
        t.user.password,
        session.accessToken,
        first.nextBatch,
      ]) {
        expect(logged).not.toContain(secret);
      }
    });
  });
});

/** A local port with nothing listening on it (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') {
    throw new Error('expected a TCP address');
  }
  return address.port;
}
