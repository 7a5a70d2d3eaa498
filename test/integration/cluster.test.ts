/**
 * Cluster mode against a real Synapse and a real Redis, with three facade processes: every
 * subscriber gets every message once and in order wherever the user's one sync loop runs, also
 * when the instance running it is killed, when Redis restarts, and while instances are rolled;
 * and no access token ever reaches Redis. A counting proxy in front of Synapse shows each user's
 * long-polls.
 */
import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { type CountingProxy, startCountingProxy } from '../../bench/lib/counting-proxy.ts';
import { loopHolder } from '../../bench/lib/loop-holder.ts';
import type { RunningRedis } from '../../scripts/redis/redis-server.ts';
import { logout } from '../../src/matrix/account.ts';
import type { Upstream } from '../../src/matrix/http.ts';
import type { MatrixClient } from '../../src/matrix/matrix-client.ts';
import { sendMessageEvent } from '../../src/matrix/room-events.ts';
import { createRoom, inviteUser, joinRoom } from '../../src/matrix/rooms.ts';
import { type FacadeCluster, startFacadeCluster } from '../support/facade-cluster.ts';
import {
  homeserver,
  newUpstream,
  newUserClient,
  type RegisteredUser,
} from '../support/homeserver.ts';
import { type RedisTraffic, recordRedisTraffic, startTestRedis } from '../support/redis.ts';

const CURSOR_SECRET = 'cluster-test-secret-0123456789-abcdefghijklmnop';
const LEASE_MS = 1000;

const ROOM_EVENTS = `
  subscription ClusterRoomEvents($roomId: ID!) {
    roomEvents(roomId: $roomId, types: ["m.room.message"]) {
      event { id ... on MessageEvent { body } }
      gap { room { id } }
    }
  }
`;

/** What one subscriber received: message bodies and gaps, in arrival order. */
interface Feed {
  readonly items: ({ body: string } | { gap: true })[];
  readonly errors: unknown[];
  readonly client: Client;
  bodies(): string[];
  /** Resolves once `body` has arrived (rejects after `timeoutMs`). */
  until(body: string, timeoutMs?: number): Promise<void>;
}

function subscribeRoom(url: string, token: string, roomId: string): Promise<Feed> {
  const client = createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: { authorization: `Bearer ${token}` },
    onNonLazyError: () => {},
  });
  const items: Feed['items'] = [];
  const errors: unknown[] = [];
  const waiters = new Set<() => void>();
  const feed: Feed = {
    items,
    errors,
    client,
    bodies: () => items.flatMap((item) => ('body' in item ? [item.body] : [])),
    until: (body, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (feed.bodies().includes(body)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `"${body}" did not arrive; got ${feed.bodies().length}: ${JSON.stringify(errors)}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
  return new Promise((resolve) => {
    client.subscribe(
      { query: ROOM_EVENTS, variables: { roomId } },
      {
        next: (value) => {
          const data = value.data as {
            roomEvents: { event: { body?: string } | null; gap: unknown } | null;
          } | null;
          const item = data?.roomEvents;
          if (item?.event?.body !== undefined) {
            items.push({ body: item.event.body });
          } else if (item?.gap) {
            items.push({ gap: true });
          }
          if (value.errors) {
            errors.push(...value.errors);
          }
          for (const waiter of [...waiters]) {
            waiter();
          }
        },
        error: (error) => errors.push(error),
        complete: () => {},
      },
    );
    // Subscribed once the server has it: a first round trip on the same socket after it.
    client.on('connected', () => resolve(feed));
  });
}

/** Sends `count` numbered messages as `client`, one after another. */
async function sendBurst(
  client: MatrixClient,
  roomId: string,
  prefix: string,
  count: number,
  onSent?: (index: number) => void | Promise<void>,
): Promise<void> {
  for (let index = 0; index < count; index++) {
    const body = `${prefix}-${index}`;
    await sendMessageEvent(client, roomId, 'm.room.message', body, { msgtype: 'm.text', body });
    await onSent?.(index);
  }
}

const numbered = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => `${prefix}-${index}`);

describe('cluster mode: three instances sharing Redis', () => {
  let redis: RunningRedis;
  let proxy: CountingProxy;
  let cluster: FacadeCluster;
  let upstream: Upstream & AsyncDisposable;
  let traffic: RedisTraffic;
  let alice: { user: RegisteredUser; client: MatrixClient };
  const listeners: { user: RegisteredUser; client: MatrixClient }[] = [];
  let roomId: string;
  const clients: Client[] = [];

  const feedsOf = async (user: RegisteredUser, instances: readonly number[]) => {
    const feeds = await Promise.all(
      instances.map((index) => subscribeRoom(cluster.urls[index] ?? '', user.accessToken, roomId)),
    );
    clients.push(...feeds.map((feed) => feed.client));
    // The subscription is registered; let every instance note its interest in Redis.
    await settle();
    return feeds;
  };
  const settle = () => new Promise((resolve) => setTimeout(resolve, LEASE_MS));
  /** Which instance runs the user's sync loop now (from its lease in Redis). */
  const holderOf = (user: RegisteredUser) => loopHolder(redis.url, CURSOR_SECRET, user.accessToken);

  beforeAll(async () => {
    redis = await startTestRedis();
    traffic = await recordRedisTraffic(redis.url);
    proxy = await startCountingProxy(homeserver().url);
    cluster = await startFacadeCluster(3, proxy.url, {
      REDIS_URL: redis.url,
      CURSOR_SECRET,
      CLUSTER_LEASE_MS: String(LEASE_MS),
      SYNC_GRACE_PERIOD_MS: '1000',
      SYNC_POLL_TIMEOUT_MS: '10000',
      LOG_LEVEL: 'info',
    });
    upstream = newUpstream();
    alice = await newUserClient(upstream, 'cluster-alice');
    ({ roomId } = await createRoom(alice.client, { preset: 'public_chat' }));
    for (const prefix of ['cluster-bob', 'cluster-carol', 'cluster-dave']) {
      const listener = await newUserClient(upstream, prefix);
      await inviteUser(alice.client, roomId, listener.user.userId);
      await joinRoom(listener.client, roomId);
      listeners.push(listener);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await cluster?.stop();
    await traffic?.close().catch(() => {});
    await proxy?.close();
    await upstream?.close();
    await redis?.stop();
  });

  it('should deliver every message once and in order to each user on every instance, with one long-poll per user', async () => {
    const feeds = (await Promise.all(listeners.map(({ user }) => feedsOf(user, [0, 1, 2])))).flat();
    proxy.resetPeak();
    await sendBurst(alice.client, roomId, 'spread', 30);
    await Promise.all(feeds.map((feed) => feed.until('spread-29')));
    for (const feed of feeds) {
      expect(feed.bodies()).toEqual(numbered('spread', 30));
      expect(feed.items.some((item) => 'gap' in item)).toBe(false);
    }
    expect(proxy.peakLongPollsPerToken).toBe(1);
    await Promise.all(feeds.map((feed) => feed.client.dispose()));
  });

  it('should hand over the loop when the instance running it is killed mid-burst, losing and repeating nothing', async () => {
    const bob = listeners[0]?.user as RegisteredUser;
    const feeds = await feedsOf(bob, [0, 1, 2]);
    const holder = await holderOf(bob);
    expect(holder).not.toBeNull();
    const survivors = feeds.filter((_, index) => index !== holder);
    let killedAt = 0;
    let takenOverAt = 0;
    proxy.longPollObserver = (token, startedAt) => {
      if (token === bob.accessToken && killedAt > 0 && takenOverAt === 0) {
        takenOverAt = startedAt;
      }
    };
    proxy.resetPeak();
    await sendBurst(alice.client, roomId, 'kill', 200, async (index) => {
      if (index === 60) {
        await cluster.kill(holder as number);
        killedAt = performance.now();
      }
    });
    await Promise.all(survivors.map((feed) => feed.until('kill-199')));
    proxy.longPollObserver = null;
    for (const feed of survivors) {
      expect(feed.bodies()).toEqual(numbered('kill', 200));
    }
    expect(proxy.peakLongPollsPerToken).toBe(1);
    const newHolder = await holderOf(bob);
    expect(newHolder).not.toBe(holder);
    expect(takenOverAt).toBeGreaterThan(killedAt);
    // The lease expires, then the next round of another instance takes it: within two leases.
    const takeoverMs = takenOverAt - killedAt;
    expect(takeoverMs).toBeLessThan(LEASE_MS * 2 + 1000);
    console.info(`takeover after kill -9: ${Math.round(takeoverMs)} ms (lease ${LEASE_MS} ms)`);
    await Promise.all(feeds.map((feed) => feed.client.dispose()));
    await cluster.restart(holder as number);
  });

  it('should never write an access token to Redis', async () => {
    const everything = await traffic.dump();
    expect(everything).toContain('mf:{');
    for (const { user } of [alice, ...listeners]) {
      expect(everything).not.toContain(user.accessToken);
    }
  });

  it('should survive Redis restarting during a burst, flagging with a gap whatever it lost', async () => {
    const carol = listeners[1]?.user as RegisteredUser;
    const feeds = await feedsOf(carol, [0, 1, 2]);
    await sendBurst(alice.client, roomId, 'redis', 120, async (index) => {
      if (index === 40) {
        await redis.kill();
        const ready = await fetch(`${cluster.urls[0]}/readyz`);
        const body = (await ready.json()) as { checks: Record<string, string> };
        expect(ready.status).toBe(503);
        expect(body.checks['redis']).not.toBe('ok');
        await redis.restart();
      }
    });
    await Promise.all(feeds.map((feed) => feed.until('redis-119')));
    const expected = numbered('redis', 120);
    for (const feed of feeds) {
      const bodies = feed.bodies();
      // In order, none twice.
      expect(bodies).toEqual(expected.filter((body) => bodies.includes(body)));
      // Every message missing is announced: a gap comes between its neighbours.
      for (const missing of expected.filter((body) => !bodies.includes(body))) {
        const index = expected.indexOf(missing);
        const before = expected.slice(0, index).findLast((body) => bodies.includes(body));
        const after = expected.slice(index + 1).find((body) => bodies.includes(body));
        const from =
          before === undefined
            ? 0
            : feed.items.findIndex((item) => 'body' in item && item.body === before);
        const to = feed.items.findIndex((item) => 'body' in item && item.body === after);
        expect(feed.items.slice(from, to).some((item) => 'gap' in item)).toBe(true);
      }
    }
    console.info(
      `after a Redis restart: ${feeds
        .map(
          (feed) =>
            `${feed.bodies().length}/120 messages, ${feed.items.length - feed.bodies().length} gaps`,
        )
        .join('; ')}`,
    );
    // Every instance still serves.
    for (const url of cluster.urls) {
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
    }
    await Promise.all(feeds.map((feed) => feed.client.dispose()));
  });

  it('should end the subscriptions on every instance when the token is revoked', async () => {
    const erin = await newUserClient(upstream, 'cluster-erin');
    await inviteUser(alice.client, roomId, erin.user.userId);
    await joinRoom(erin.client, roomId);
    const feeds = await feedsOf(erin.user, [0, 1, 2]);
    await logout(erin.client);
    await Promise.all(
      feeds.map((feed) =>
        vi.waitFor(
          () => {
            const codes = feed.errors.map(
              (error) => (error as { extensions?: { code?: string } }).extensions?.code,
            );
            expect(codes).toContain('UNAUTHENTICATED');
          },
          { timeout: 15_000, interval: 100 },
        ),
      ),
    );
  });

  it('should lose nothing for subscribers of surviving instances while every instance is rolled', async () => {
    const dave = listeners[2]?.user as RegisteredUser;
    let feeds = await feedsOf(dave, [0, 1, 2]);
    let sending = true;
    let sent = 0;
    const stream = (async () => {
      while (sending) {
        const body = `roll-${sent}`;
        await sendMessageEvent(alice.client, roomId, 'm.room.message', body, {
          msgtype: 'm.text',
          body,
        });
        sent += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const checked: Feed[] = [];
    for (const index of [0, 1, 2]) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await cluster.restart(index);
      // Those on the other instances lived through this restart: they are checked at the end.
      checked.push(...feeds.filter((_, other) => other !== index));
      const [fresh] = await feedsOf(dave, [index]);
      feeds = feeds.map((feed, other) => (other === index ? (fresh as Feed) : feed));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    sending = false;
    await stream;
    const last = `roll-${sent - 1}`;
    await Promise.all(feeds.map((feed) => feed.until(last)));
    for (const feed of [...checked, ...feeds]) {
      const bodies = feed.bodies();
      expect(bodies.length).toBeGreaterThan(0);
      // From the first message it got, each one after, once and in order, without a gap.
      const first = Number(bodies[0]?.slice('roll-'.length));
      expect(bodies).toEqual(numbered('roll', sent).slice(first, first + bodies.length));
      expect(feed.items.some((item) => 'gap' in item)).toBe(false);
    }
    await Promise.all(feeds.map((feed) => feed.client.dispose()));
  }, 120_000);
});
