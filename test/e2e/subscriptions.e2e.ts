import { describe, expect, it, vi } from 'vitest';
import { logout } from '../../src/matrix/account.ts';
import { sendMessageEvent } from '../../src/matrix/room-events.ts';
import { putStateEvent } from '../../src/matrix/room-state.ts';
import { createRoom, inviteUser, joinRoom } from '../../src/matrix/rooms.ts';
import { graphql } from '../generated/gql.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { homeserver, newUpstream, newUserClient } from '../support/homeserver.ts';
import { startServer, subscribe, type TestServerOptions } from '../support/server.ts';

const RoomEventsSubscription = graphql(`
  subscription RoomEventsFeed($roomId: ID!, $types: [String!]) {
    roomEvents(roomId: $roomId, types: $types) {
      event {
        id
        type
        sender {
          id
        }
        ... on MessageEvent {
          body
        }
        ... on RoomNameEvent {
          name
        }
      }
      gap {
        room {
          id
        }
      }
    }
  }
`);

const RoomUpdatedSubscription = graphql(`
  subscription RoomUpdatedFeed($roomId: ID!) {
    roomUpdated(roomId: $roomId) {
      id
      name
    }
  }
`);

const MyMembershipSubscription = graphql(`
  subscription MyMembershipFeed {
    myMembership {
      membership
      room {
        id
        name
      }
    }
  }
`);

const text = (body: string) => ({ msgtype: 'm.text', body });

/** alice and bob share a room; bob's client sends. */
async function sharedRoom(prefix: string) {
  const upstream = newUpstream();
  const [alice, bob] = await Promise.all([
    newUserClient(upstream, `${prefix}-alice`),
    newUserClient(upstream, `${prefix}-bob`),
  ]);
  const { roomId } = await createRoom(bob.client, { name: 'Shared', preset: 'public_chat' });
  await joinRoom(alice.client, roomId);
  return { upstream, alice, bob, roomId };
}

describe('subscriptions over graphql-ws', () => {
  it("should deliver bob's messages, rename and invite to alice's three subscriptions once, in order", async () => {
    const { upstream, alice, bob, roomId } = await sharedRoom('three');
    await using _upstream = upstream;
    await using server = await startServer();
    await using client = server.client(alice.user.accessToken);

    const events = subscribe(client, RoomEventsSubscription, { roomId });
    const updates = subscribe(client, RoomUpdatedSubscription, { roomId });
    const memberships = subscribe(client, MyMembershipSubscription, {});
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(3));

    const sent: string[] = [];
    for (const body of ['one', 'two', 'three']) {
      sent.push(
        (await sendMessageEvent(bob.client, roomId, 'm.room.message', body, text(body))).eventId,
      );
    }
    const rename = await putStateEvent(bob.client, roomId, 'm.room.name', '', { name: 'Renamed' });
    const other = await createRoom(bob.client, { name: 'Elsewhere' });
    await inviteUser(bob.client, other.roomId, alice.user.userId);
    // A last message marks the end: everything before it has arrived once it arrives.
    const marker = await sendMessageEvent(bob.client, roomId, 'm.room.message', 'end', text('end'));

    const received = await events.next(5);
    expect(received.map((value) => value.data?.roomEvents.event?.id)).toEqual([
      ...sent,
      rename.eventId,
      marker.eventId,
    ]);
    expect(received.map((value) => value.data?.roomEvents.event)).toMatchObject([
      { type: 'm.room.message', body: 'one', sender: { id: bob.user.userId } },
      { type: 'm.room.message', body: 'two' },
      { type: 'm.room.message', body: 'three' },
      { type: 'm.room.name', name: 'Renamed' },
      { type: 'm.room.message', body: 'end' },
    ]);
    await memberships.next(1);
    expect(memberships.values.map((value) => value.data?.myMembership)).toEqual([
      { membership: 'INVITE', room: { id: other.roomId, name: 'Elsewhere' } },
    ]);
    // Bob's messages also push alice's unread counts (as many items as the long-polls grouped
    // them into), each with the name as it then stood: the old name, then the new one, never back.
    await vi.waitFor(() =>
      expect(updates.values.at(-1)?.data?.roomUpdated).toEqual({ id: roomId, name: 'Renamed' }),
    );
    const names = updates.values.map((value) => value.data?.roomUpdated?.name);
    const renamedFrom = names.indexOf('Renamed');
    expect(renamedFrom).toBeGreaterThanOrEqual(0);
    expect(names.slice(0, renamedFrom).every((name) => name === 'Shared')).toBe(true);
    expect(names.slice(renamedFrom).every((name) => name === 'Renamed')).toBe(true);
    expect(updates.values.every((value) => value.data?.roomUpdated?.id === roomId)).toBe(true);
    expect(events.values).toHaveLength(5);
  });

  it('should serve 50 subscriptions on 5 connections with one long-poll, stopped after the last', async () => {
    const { upstream, alice, bob, roomId } = await sharedRoom('fifty');
    await using _upstream = upstream;
    // A long server timeout: the loop's single long-poll stays open while we count.
    await using server = await startServer({ syncPollTimeoutMs: 30_000, syncGracePeriodMs: 300 });
    const clients = Array.from({ length: 5 }, () => server.client(alice.user.accessToken));
    const feeds = clients.flatMap((client) =>
      Array.from({ length: 10 }, () => subscribe(client, RoomEventsSubscription, { roomId })),
    );
    await vi.waitFor(() => expect(server.app.syncStats).toEqual({ loops: 1, listeners: 50 }));
    await vi.waitFor(() => expect(server.upstream.count(/\/sync$/)).toBe(2));
    // One initial sync and one long-poll, whatever the number of subscriptions.
    const syncsBefore = server.upstream.count(/\/sync$/);

    const { eventId } = await sendMessageEvent(
      bob.client,
      roomId,
      'm.room.message',
      'all',
      text('all'),
    );
    const firsts = await Promise.all(feeds.map((feed) => feed.next(1)));
    expect(firsts.map((values) => values[0]?.data?.roomEvents.event?.id)).toEqual(
      Array.from({ length: 50 }, () => eventId),
    );
    // The long-poll returned with the message, and one new one replaced it.
    await vi.waitFor(() => expect(server.upstream.count(/\/sync$/)).toBe(syncsBefore + 1));

    for (const feed of feeds) {
      feed.unsubscribe();
    }
    await vi.waitFor(() => expect(server.app.syncStats).toEqual({ loops: 0, listeners: 0 }));
    for (const client of clients) {
      await client.dispose();
    }
  });

  it('should refuse a connection without a token (4401) or with a bad one (4403)', async () => {
    await using server = await startServer();
    for (const [token, code] of [
      [undefined, 4401],
      ['syt_not_a_token', 4403],
    ] as const) {
      await using client = server.client(token);
      const closed = new Promise<number>((resolve) =>
        client.on('closed', (event) => resolve((event as { code: number }).code)),
      );
      const feed = subscribe(client, MyMembershipSubscription, {});
      expect(await closed).toBe(code);
      await feed.done;
      expect(feed.values).toEqual([]);
    }
    expect(server.app.syncStats.loops).toBe(0);
  });

  it('should end a subscription with UNAUTHENTICATED when its token is revoked', async () => {
    const { upstream, alice, roomId } = await sharedRoom('revoked');
    await using _upstream = upstream;
    await using server = await startServer({ syncPollTimeoutMs: 500 });
    await using client = server.client(alice.user.accessToken);
    const feed = subscribe(client, RoomEventsSubscription, { roomId });
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(1));

    await logout(upstream.client(alice.user.accessToken));
    await feed.done;
    expect(feed.values.map((value) => value.errors?.[0]?.extensions?.['code'])).toEqual([
      'UNAUTHENTICATED',
    ]);
    await vi.waitFor(() => expect(server.app.syncStats.loops).toBe(0));
  });

  it('should refuse a room the viewer cannot see with FORBIDDEN before subscribing', async () => {
    const { upstream, roomId } = await sharedRoom('forbidden');
    await using _upstream = upstream;
    const stranger = await newUserClient(upstream, 'forbidden-stranger');
    await using server = await startServer();
    await using client = server.client(stranger.user.accessToken);
    const feed = subscribe(client, RoomEventsSubscription, { roomId });
    await feed.done;
    expect(JSON.stringify([...feed.values, ...feed.errors])).toContain('FORBIDDEN');
    expect(server.app.syncStats.loops).toBe(0);
  });

  it('should leave no loop and no listener behind after 1,000 subscribe/unsubscribe cycles', async () => {
    const { upstream, alice } = await sharedRoom('cycles');
    await using _upstream = upstream;
    await using server = await startServer({ syncGracePeriodMs: 50 });
    await using client = server.client(alice.user.accessToken);
    for (let cycle = 0; cycle < 1000; cycle++) {
      const feed = subscribe(client, MyMembershipSubscription, {});
      feed.unsubscribe();
    }
    await vi.waitFor(() => expect(server.app.syncStats).toEqual({ loops: 0, listeners: 0 }));
  });
});

/**
 * alice subscribed to `roomEvents` through a fault proxy, her next long-poll held there; `send`
 * has bob post messages straight to Synapse meanwhile.
 */
async function heldSubscription(prefix: string, options: TestServerOptions = {}) {
  const room = await sharedRoom(prefix);
  const proxy = await startFaultProxy(homeserver().url);
  const server = await startServer({
    environment: { MATRIX_HOMESERVER_URL: proxy.url },
    syncPollTimeoutMs: 1000,
    ...options,
  });
  const client = server.client(room.alice.user.accessToken);
  const feed = subscribe(client, RoomEventsSubscription, { roomId: room.roomId });
  await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(1));
  proxy.inject({ kind: 'hold' }, { path: /\/sync/, times: 1 });
  await vi.waitFor(() => expect(proxy.held).toBe(1), { timeout: 10_000 });
  const send = async (count: number, label: string): Promise<string[]> => {
    const sent: string[] = [];
    for (let index = 0; index < count; index++) {
      const body = `${label} ${index}`;
      const { eventId } = await sendMessageEvent(
        room.bob.client,
        room.roomId,
        'm.room.message',
        body,
        text(body),
      );
      sent.push(eventId);
    }
    return sent;
  };
  return {
    ...room,
    proxy,
    feed,
    send,
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await proxy.close();
      await room.upstream.close();
    },
  };
}

describe('subscriptions through upstream faults', () => {
  it('should deliver all 30 messages sent while the sync was held and broken, once and in order', async () => {
    await using held = await heldSubscription('faults');
    const { proxy, feed, bob, roomId } = held;
    const sent = await held.send(30, 'held');
    // Then break it, and refuse the next two tries with 502s before letting syncs through.
    proxy.inject({ kind: 'status', status: 502 }, { path: /\/sync/, times: 2 });
    proxy.resetHeld();

    const received = await feed.next(30);
    expect(received.map((value) => value.data?.roomEvents.event?.id)).toEqual(sent);
    const marker = await sendMessageEvent(bob.client, roomId, 'm.room.message', 'end', text('end'));
    const withMarker = await feed.next(31);
    expect(withMarker.map((value) => value.data?.roomEvents.event?.id)).toEqual([
      ...sent,
      marker.eventId,
    ]);
  });
});

describe('subscriptions after too long a break', () => {
  it('should deliver one gap item, no error, when backfill stops at its bound, then go on with the newest', async () => {
    await using held = await heldSubscription('gap', { syncMaxBackfillEvents: 5 });
    const { proxy, feed, bob, roomId } = held;
    // More than one long-poll's timeline (50) and more than the backfill bound (5) can recover.
    const sent = await held.send(70, 'flood');
    proxy.resetHeld();
    const marker = await sendMessageEvent(bob.client, roomId, 'm.room.message', 'end', text('end'));
    await vi.waitFor(
      () => expect(feed.values.at(-1)?.data?.roomEvents.event?.id).toBe(marker.eventId),
      {
        timeout: 30_000,
      },
    );

    // A gap is data, not an error: clients whose error policy ends a subscription keep theirs.
    expect(feed.values.filter((value) => value.errors !== undefined)).toEqual([]);
    const items = feed.values.map((value) =>
      value.data?.roomEvents.gap
        ? `gap:${value.data.roomEvents.gap.room.id}`
        : value.data?.roomEvents.event?.id,
    );
    expect(items.filter((item) => item === `gap:${roomId}`)).toHaveLength(1);
    // After the gap: the newest events in order, each once, ending with the marker.
    const afterGap = items.slice(items.indexOf(`gap:${roomId}`) + 1);
    expect(afterGap.at(-1)).toBe(marker.eventId);
    const delivered = afterGap.slice(0, -1);
    expect(new Set(delivered).size).toBe(delivered.length);
    expect(delivered).toEqual(sent.slice(sent.length - delivered.length));
  });
});

describe('subscriptions over SSE', () => {
  it('should stream roomEvents with the bearer header', async () => {
    const { upstream, alice, bob, roomId } = await sharedRoom('sse');
    await using _upstream = upstream;
    await using server = await startServer();
    const abort = new AbortController();
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      signal: abort.signal,
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${alice.user.accessToken}`,
      },
      body: JSON.stringify({
        query: 'subscription ($roomId: ID!) { roomEvents(roomId: $roomId) { event { id } } }',
        variables: { roomId },
      }),
    });
    expect(response.status).toBe(200);
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(1));
    const { eventId } = await sendMessageEvent(
      bob.client,
      roomId,
      'm.room.message',
      's',
      text('s'),
    );

    const reader = response.body?.getReader();
    let buffered = '';
    while (!buffered.includes(eventId) && reader) {
      const chunk = await reader.read();
      if (chunk.done) {
        break;
      }
      buffered += new TextDecoder().decode(chunk.value);
    }
    expect(buffered).toContain(`"roomEvents":{"event":{"id":"${eventId}"}}`);
    abort.abort();
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(0));
  });
});

describe('graceful shutdown', () => {
  it('should complete subscriptions, close sockets with 1001 and stop every loop', async () => {
    const { upstream, alice, roomId } = await sharedRoom('shutdown');
    await using _upstream = upstream;
    const server = await startServer({ syncPollTimeoutMs: 30_000 });
    const client = server.client(alice.user.accessToken);
    const closed = new Promise<number>((resolve) =>
      client.on('closed', (event) => resolve((event as { code: number }).code)),
    );
    const feed = subscribe(client, RoomEventsSubscription, { roomId });
    const sse = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${alice.user.accessToken}`,
      },
      body: JSON.stringify({ query: 'subscription { myMembership { membership } }' }),
    });
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(2));

    await server.app.stop();
    expect(await closed).toBe(1001);
    await feed.done;
    // The SSE stream completes too: its body ends with yoga's completion frame, no event before.
    const frames = await sse.text();
    expect(frames).toContain('event: complete');
    expect(frames).not.toContain('"data"');
    expect(server.app.syncStats).toEqual({ loops: 0, listeners: 0 });
    expect(server.app.server.listening).toBe(false);
    await server[Symbol.asyncDispose]();
  });
});

describe('subscriptions of one room', () => {
  it("should check the room once for all of a token's subscriptions of it, and again for another token", async () => {
    const { upstream, alice, bob, roomId } = await sharedRoom('admitted-once');
    await using _upstream = upstream;
    await using server = await startServer();
    await using aliceClient = server.client(alice.user.accessToken);
    await using bobClient = server.client(bob.user.accessToken);
    const roomState = /\/rooms\/[^/]+\/state$/;

    const feeds = [
      ...Array.from({ length: 6 }, () =>
        subscribe(aliceClient, RoomEventsSubscription, { roomId, types: null }),
      ),
      ...Array.from({ length: 4 }, () =>
        subscribe(aliceClient, RoomUpdatedSubscription, { roomId }),
      ),
    ];
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(10));
    expect(server.upstream.count(roomState)).toBe(1);

    const bobFeed = subscribe(bobClient, RoomEventsSubscription, { roomId, types: null });
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(11));
    expect(server.upstream.count(roomState)).toBe(2);
    for (const feed of [...feeds, bobFeed]) {
      feed.unsubscribe();
    }
  });
});

describe('roomUpdated', () => {
  it('should read the state once per change however many subscriptions receive it', async () => {
    const { upstream, alice, bob, roomId } = await sharedRoom('updated-once');
    await using _upstream = upstream;
    await using server = await startServer();
    await using client = server.client(alice.user.accessToken);
    const feeds = Array.from({ length: 5 }, () =>
      subscribe(client, RoomUpdatedSubscription, { roomId }),
    );
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(5));
    server.upstream.reset();

    await putStateEvent(bob.client, roomId, 'm.room.name', '', { name: 'Once' });
    const firsts = await Promise.all(feeds.map((feed) => feed.next(1)));

    expect(firsts.map((values) => values[0]?.data?.roomUpdated)).toEqual(
      Array.from({ length: 5 }, () => ({ id: roomId, name: 'Once' })),
    );
    expect(server.upstream.count(/\/rooms\/[^/]+\/state$/)).toBe(1);
  });
});
