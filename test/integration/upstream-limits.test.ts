/**
 * What bounds the facade's upstream work when the homeserver, or whatever stands in front of it,
 * misbehaves: malformed answers, huge Retry-After delays, huge and dripping bodies, refused
 * tokens, and long-polls crowding out queries. The fault proxy sits in front of the real Synapse
 * and counts what it receives.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { whoami } from '../../src/matrix/account.ts';
import { ConnectionError, MatrixApiError } from '../../src/matrix/errors.ts';
import type { UpstreamLogger, UpstreamOptions } from '../../src/matrix/http.ts';
import { buildApp } from '../../src/server/app.ts';
import { SyncHub } from '../../src/sync/sync-hub.ts';
import { startFacade } from '../support/facade.ts';
import { type ProxiedRequest, startFaultProxy } from '../support/fault-proxy.ts';
import { homeserver, newUpstream, newUser } from '../support/homeserver.ts';

const syncPath = /\/_matrix\/client\/v3\/sync(\?|$)/;
const longPollPath = /\/_matrix\/client\/v3\/sync\?.*since=/;
const whoamiPath = /\/account\/whoami$/;
const isSync = (request: ProxiedRequest) => syncPath.test(request.url);
const WAIT = { timeout: 20_000, interval: 20 };
const MiB = 1024 * 1024;

/**
 * A sync hub wired as the app wires it (its own long-poll pool, one attempt per request), reaching
 * Synapse through a fault proxy, with short backoffs and its warnings collected.
 */
async function syncBridge() {
  const proxy = await startFaultProxy(homeserver().url);
  const upstream = newUpstream({ homeserverUrl: proxy.url });
  const warnings: string[] = [];
  const logger: UpstreamLogger = {
    debug: () => {},
    warn: (fields, message) => warnings.push(`${message} ${JSON.stringify(fields)}`),
  };
  const hub = new SyncHub({
    upstream: upstream.longPollPool({ retry: { maxAttempts: 1 } }),
    pollTimeoutMs: 1000,
    gracePeriodMs: 50,
    backoff: { initialDelayMs: 200, maxDelayMs: 1000 },
    logger,
  });
  const user = await newUser('limits');
  return {
    proxy,
    hub,
    warnings,
    subscribe: () =>
      hub.subscribe({ accessToken: user.accessToken, userId: user.userId }, () => {}),
    syncs: () => proxy.log.filter(isSync).length,
    async [Symbol.asyncDispose]() {
      await hub.close();
      await upstream.close();
      await proxy.close();
    },
  };
}

/** A fresh user's client reaching Synapse through a fault proxy, with these upstream options. */
async function clientThroughProxy(options: Partial<UpstreamOptions> = {}) {
  const proxy = await startFaultProxy(homeserver().url);
  const upstream = newUpstream({ homeserverUrl: proxy.url, ...options });
  const user = await newUser('limits');
  const client = upstream.client(user.accessToken);
  const close = async () => {
    await upstream.close();
    await proxy.close();
  };
  return Object.assign({ proxy, user, client }, { [Symbol.asyncDispose]: close });
}

/** What `call` rejected with; `null` when it resolved (which the assertions then fail on). */
function failureOf(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => null,
    (error: unknown) => error,
  );
}

describe.concurrent('upstream limits', () => {
  describe('a /sync answered with {}', () => {
    it('should make the loop back off like after any failure, then recover', async () => {
      await using bridge = await syncBridge();
      bridge.proxy.inject({ kind: 'json', body: {} }, { path: syncPath, times: Infinity });

      bridge.subscribe();
      await sleep(3000);

      // Measured before: 5,731 /sync calls in 4 s. With backoff (200 ms doubling to 1 s, half
      // of it random), at most a try at 0, 0.1, 0.3, 0.7, 1.2, 1.7, 2.2 and 2.7 s.
      const tries = bridge.syncs();
      expect(tries).toBeGreaterThanOrEqual(2);
      expect(tries).toBeLessThanOrEqual(10);
      expect(bridge.warnings.join('\n')).toContain('next_batch is not a string');
      expect(bridge.hub.stats.loops).toBe(1);

      bridge.proxy.clear();
      await vi.waitFor(
        () => expect(bridge.proxy.log.some((request) => longPollPath.test(request.url))).toBe(true),
        WAIT,
      );
    });
  });

  describe('Retry-After: 3000000', () => {
    it('should make the sync loop wait (capped), not spin', async () => {
      await using bridge = await syncBridge();
      bridge.proxy.inject(
        { kind: 'rate-limit', retryAfterSeconds: 3_000_000 },
        { path: syncPath, times: Infinity },
      );

      bridge.subscribe();
      await sleep(2000);

      // Measured before: 1,290 /sync calls in 4 s (the delay overflowed the timer).
      expect(bridge.syncs()).toBe(1);
      expect(bridge.warnings.join('\n')).toContain('"delayMs":300000');
    });

    it('should make an ordinary call give up at once, telling the caller the delay asked', async () => {
      await using t = await clientThroughProxy();
      t.proxy.inject(
        { kind: 'rate-limit', retryAfterSeconds: 3_000_000 },
        { path: whoamiPath, times: Infinity },
      );

      const error = await failureOf(whoami(t.client));

      expect(error).toBeInstanceOf(MatrixApiError);
      expect(error).toMatchObject({ status: 429, retryAfterMs: 3_000_000_000 });
      expect(t.proxy.seen).toBe(1);
    });
  });

  describe('a 256 MiB body', () => {
    it.each([
      ['announced in Content-Length', true],
      ['chunked', false],
    ])('should be refused unread when %s', async (_name, declareLength) => {
      await using t = await clientThroughProxy({ maxResponseBytes: MiB });
      const bytes = 256 * MiB;
      t.proxy.inject({ kind: 'huge-body', bytes, declareLength }, { path: whoamiPath });

      const error = await failureOf(whoami(t.client));

      expect(error).toBeInstanceOf(ConnectionError);
      expect(error).toMatchObject({ failure: 'too-large' });
      // The facade hung up: the proxy saw the exchange end before the body was all written.
      const [entry] = t.proxy.log;
      await vi.waitFor(() => expect(entry?.closed).not.toBeNull(), WAIT);
      expect(entry?.generatedBytes).toBeLessThan(bytes);
      // The next call gets a connection of its own and its answer.
      expect(await whoami(t.client)).toMatchObject({ userId: t.user.userId });
    });
  });

  describe('a homeserver that drips its body', () => {
    it('should fail the call as a timeout at its total deadline, and hang up', async () => {
      // A byte every 50 ms never lets the 1 s body timeout fire; the 1.5 s total does.
      await using t = await clientThroughProxy({ timeouts: { totalMs: 1500, bodyMs: 1000 } });
      t.proxy.inject({ kind: 'drip', intervalMs: 50 }, { path: whoamiPath });

      const error = await failureOf(whoami(t.client));

      expect(error).toBeInstanceOf(ConnectionError);
      expect(error).toMatchObject({ failure: 'timeout' });
      const [entry] = t.proxy.log;
      await vi.waitFor(() => expect(entry?.closed).not.toBeNull(), WAIT);
      // It did drip past the body timeout: that timeout alone would have waited forever.
      expect(entry?.generatedBytes).toBeGreaterThanOrEqual(10);
      expect(t.proxy.seen).toBe(1);
    });
  });

  describe('through the facade', () => {
    it('should answer a malformed upstream body with UPSTREAM_UNAVAILABLE', async () => {
      await using proxy = await startFaultProxy(homeserver().url);
      await using facade = startFacade({ MATRIX_HOMESERVER_URL: proxy.url });
      const user = await newUser('limits');
      proxy.inject({ kind: 'json', body: ['not', 'an', 'object'] }, { path: whoamiPath });

      const result = await facade.graphql('{ viewer { userId } }', { token: user.accessToken });

      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
      expect(JSON.stringify(result)).not.toContain('"an"');
      expect(proxy.seen).toBe(1);
    });

    it('should make exactly one upstream call for a many-field query with a bogus token', async () => {
      await using facade = startFacade();

      const result = await facade.graphql(
        `{
          viewer { userId }
          room(id: "!nowhere:hs.test") { id }
          user(id: "@nobody:hs.test") { id }
          rooms(first: 2) { edges { node { id } } }
        }`,
        { token: 'syt_bogus_token' },
      );

      expect(facade.upstream.count()).toBe(1);
      expect(result.errors?.length).toBeGreaterThanOrEqual(1);
      for (const error of result.errors ?? []) {
        expect(error.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
      }
    });
  });

  describe('fairness', () => {
    it("should answer a query while 40 users' long-polls are held open", async () => {
      const USERS = 40;
      await using proxy = await startFaultProxy(homeserver().url);
      // Real connection pools (no injected dispatcher): 4 connections for queries only.
      const app = buildApp({
        config: loadConfig({
          MATRIX_HOMESERVER_URL: proxy.url,
          UPSTREAM_CONNECTIONS: '4',
          SYNC_POLL_TIMEOUT_MS: '20000',
          SYNC_GRACE_PERIOD_MS: '50',
        }),
        logger: createLogger('silent'),
      });
      await using _app = { [Symbol.asyncDispose]: () => app.stop() };
      proxy.inject({ kind: 'hold' }, { path: longPollPath, times: Infinity });
      const [other, ...subscribers] = await Promise.all(
        Array.from({ length: USERS + 1 }, () => newUser('fair')),
      );

      const streams = await Promise.all(
        subscribers.map((user) =>
          app.yoga.fetch('http://facade.test/graphql', {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'text/event-stream',
              authorization: `Bearer ${user.accessToken}`,
            },
            body: JSON.stringify({ query: 'subscription { myMembership { membership } }' }),
          }),
        ),
      );
      expect(streams.map((response) => response.status)).toEqual(Array(USERS).fill(200));
      // A stream subscribes to the sync bridge once read: keep a read pending on each.
      const readers = streams.map((response) => response.body?.getReader());
      for (const reader of readers) {
        void reader?.read().catch(() => {});
      }
      await vi.waitFor(() => expect(proxy.held).toBe(USERS), WAIT);

      // Ten times the query pool's connections are held by long-polls, yet whoami answers: they
      // hold connections of their own pool, not the queries'.
      const response = await app.yoga.fetch('http://facade.test/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${other?.accessToken}`,
        },
        body: JSON.stringify({ query: '{ viewer { userId } }' }),
      });
      expect(await response.json()).toEqual({ data: { viewer: { userId: other?.userId } } });
      expect(proxy.held).toBe(USERS);
      expect(app.syncStats).toEqual({ loops: USERS, listeners: USERS });
      await Promise.all(readers.map((reader) => reader?.cancel()));
    });
  });
});
