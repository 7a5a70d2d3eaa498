import { createClient } from 'graphql-ws';
import { Agent } from 'undici';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { setReadMarkers } from '../../src/matrix/read-markers.ts';
import { sendMessageEvent } from '../../src/matrix/room-events.ts';
import { createRoom, joinRoom } from '../../src/matrix/rooms.ts';
import { type SyncFilter, sync } from '../../src/matrix/sync.ts';
import { buildApp } from '../../src/server/app.ts';
import { graphql } from '../generated/gql.ts';
import { startFacade } from '../support/facade.ts';
import { homeserver, newUpstream, newUserClient } from '../support/homeserver.ts';
import { startServer, subscribe } from '../support/server.ts';

const SLIDING_SYNC = 'POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync';
const SYNC = 'GET /_matrix/client/v3/sync';
const WHOAMI = 'GET /_matrix/client/v3/account/whoami';
const listCall = { 'sliding-sync': SLIDING_SYNC, sync: SYNC } as const;
const enc = encodeURIComponent;

const RoomListUnread = graphql(`
  query RoomListUnread {
    rooms(first: 20) {
      edges {
        node {
          id
          name
          unreadNotifications {
            notificationCount
            highlightCount
          }
        }
      }
    }
  }
`);

const RoomListPlain = graphql(`
  query RoomListPlain {
    rooms(first: 20) {
      edges {
        node {
          id
        }
      }
    }
  }
`);

const RoomUnread = graphql(`
  query RoomUnread($id: ID!) {
    room(id: $id) {
      id
      unreadNotifications {
        notificationCount
        highlightCount
      }
      readMarker {
        eventId
      }
    }
  }
`);

const MarkRead = graphql(`
  mutation MarkRead($input: MarkReadInput!) {
    markRead(input: $input) {
      clientMutationId
      room {
        id
      }
    }
  }
`);

const SetTyping = graphql(`
  mutation SetTyping($input: SetTypingInput!) {
    setTyping(input: $input) {
      clientMutationId
      room {
        id
      }
    }
  }
`);

const Typing = graphql(`
  subscription Typing($roomId: ID!) {
    typing(roomId: $roomId) {
      id
    }
  }
`);

/** alice's room where bob (joined) sent `count` messages; the newest message's ID. */
async function roomWithUnread(prefix: string, count: number) {
  const upstream = newUpstream();
  const [alice, bob] = await Promise.all([
    newUserClient(upstream, `${prefix}-alice`),
    newUserClient(upstream, `${prefix}-bob`),
  ]);
  const { roomId } = await createRoom(alice.client, { name: 'Chatty', preset: 'public_chat' });
  await joinRoom(bob.client, roomId);
  let newest = '';
  for (let index = 0; index < count; index++) {
    ({ eventId: newest } = await sendMessageEvent(
      bob.client,
      roomId,
      'm.room.message',
      `m${index}`,
      {
        msgtype: 'm.text',
        body: `hello ${index}`,
      },
    ));
  }
  return { upstream, alice, bob, roomId, newest };
}

const POLL = { timeout: 10_000, interval: 100 };

describe.each(['sliding-sync', 'sync'] as const)('unread counts (%s plan)', (plan) => {
  it('should come with the room list at no extra call, and drop to 0 after markRead', async () => {
    const { upstream, alice, roomId, newest } = await roomWithUnread(`unread-${plan}`, 3);
    await using _upstream = upstream;
    await using facade = startFacade({ ROOM_LIST_PLAN: plan });
    const token = alice.user.accessToken;

    // Synapse counts push actions as the events are persisted: poll until all 3 are counted.
    await vi.waitFor(async () => {
      facade.upstream.reset();
      const list = await facade.graphql(RoomListUnread, { token });
      expect(list.errors).toBeUndefined();
      expect(list.data?.rooms.edges.map((edge) => edge.node)).toEqual([
        {
          id: roomId,
          name: 'Chatty',
          unreadNotifications: { notificationCount: 3, highlightCount: 0 },
        },
      ]);
      // Synapse's sliding sync has placeholder counts: /sync serves the list on either plan.
      expect(facade.upstream.requests).toEqual([SYNC]);
    }, POLL);

    // Without the counts, the list is the plan's own call.
    facade.upstream.reset();
    const plain = await facade.graphql(RoomListPlain, { token });
    expect(plain.data?.rooms.edges.map((edge) => edge.node)).toEqual([{ id: roomId }]);
    expect(facade.upstream.requests).toEqual([listCall[plan]]);

    // Outside a list: the room's /state and one /sync filtered to it; the marker is unset.
    facade.upstream.reset();
    const single = await facade.graphql(RoomUnread, { token, variables: { id: roomId } });
    expect(single.data?.room).toEqual({
      id: roomId,
      unreadNotifications: { notificationCount: 3, highlightCount: 0 },
      readMarker: null,
    });
    expect(facade.upstream.requests.filter((call) => call !== WHOAMI).sort()).toEqual(
      [
        SYNC,
        `GET /_matrix/client/v3/rooms/${enc(roomId)}/state`,
        `GET /_matrix/client/v3/user/${enc(alice.user.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`,
      ].sort(),
    );

    facade.upstream.reset();
    const marked = await facade.graphql(MarkRead, {
      token,
      variables: { input: { roomId, eventId: newest, clientMutationId: 'm1' } },
    });
    expect(marked.errors).toBeUndefined();
    expect(marked.data?.markRead).toEqual({ clientMutationId: 'm1', room: { id: roomId } });
    expect(facade.upstream.requests).toEqual([
      `POST /_matrix/client/v3/rooms/${enc(roomId)}/read_markers`,
    ]);

    await vi.waitFor(async () => {
      const list = await facade.graphql(RoomListUnread, { token });
      expect(list.data?.rooms.edges[0]?.node.unreadNotifications).toEqual({
        notificationCount: 0,
        highlightCount: 0,
      });
    }, POLL);
    const after = await facade.graphql(RoomUnread, { token, variables: { id: roomId } });
    expect(after.data?.room).toEqual({
      id: roomId,
      unreadNotifications: { notificationCount: 0, highlightCount: 0 },
      readMarker: { eventId: newest },
    });
  });
});

describe('markRead and setTyping', () => {
  it('should refuse bad input before any call, and pass on the homeserver’s refusal', async () => {
    const { upstream, alice, bob, roomId, newest } = await roomWithUnread('refuse', 1);
    await using _upstream = upstream;
    const outsider = await newUserClient(upstream, 'refuse-outsider');
    await using facade = startFacade();

    const badEvent = await facade.graphql(MarkRead, {
      token: alice.user.accessToken,
      variables: { input: { roomId, eventId: 'not-an-event' } },
    });
    expect(badEvent.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'eventId',
    });
    const badTimeout = await facade.graphql(SetTyping, {
      token: bob.user.accessToken,
      variables: { input: { roomId, typing: true, timeoutMs: 0 } },
    });
    expect(badTimeout.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'timeoutMs',
    });
    expect(facade.upstream.requests).toEqual([]);

    const notMember = await facade.graphql(MarkRead, {
      token: outsider.user.accessToken,
      variables: { input: { roomId, eventId: newest } },
    });
    expect(notMember.data?.markRead).toBeNull();
    expect(notMember.errors?.[0]).toMatchObject({
      path: ['markRead'],
      extensions: { code: 'FORBIDDEN', matrix: { errcode: 'M_FORBIDDEN', status: 403 } },
    });
    const typingOutside = await facade.graphql(SetTyping, {
      token: outsider.user.accessToken,
      variables: { input: { roomId, typing: true } },
    });
    expect(typingOutside.data?.setTyping).toBeNull();
    expect(typingOutside.errors?.[0]).toMatchObject({
      path: ['setTyping'],
      extensions: { code: 'FORBIDDEN', matrix: { errcode: 'M_FORBIDDEN', status: 403 } },
    });
  });

  it('should show setTyping to another member’s typing subscription', async () => {
    const { upstream, alice, bob, roomId } = await roomWithUnread('typing', 0);
    await using _upstream = upstream;
    await using server = await startServer();
    await using client = server.client(alice.user.accessToken);
    const seen = subscribe(client, Typing, { roomId });
    // The subscription's sync loop must be running before bob types.
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(1), POLL);
    await new Promise((resolve) => setTimeout(resolve, 300));

    await using facade = startFacade();
    const typed = await facade.graphql(SetTyping, {
      token: bob.user.accessToken,
      variables: { input: { roomId, typing: true, timeoutMs: 20_000, clientMutationId: 't1' } },
    });
    expect(typed.data?.setTyping).toEqual({ clientMutationId: 't1', room: { id: roomId } });
    expect(facade.upstream.requests).toEqual([
      WHOAMI,
      `PUT /_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(bob.user.userId)}`,
    ]);
    await vi.waitFor(
      () =>
        expect(seen.values.map((value) => value.data?.typing)).toContainEqual([
          { id: bob.user.userId },
        ]),
      POLL,
    );

    const stopped = await facade.graphql(SetTyping, {
      token: bob.user.accessToken,
      variables: { input: { roomId, typing: false } },
    });
    expect(stopped.errors).toBeUndefined();
    await vi.waitFor(() => expect(seen.values.at(-1)?.data?.typing).toEqual([]), POLL);
    seen.unsubscribe();
  });
});

const RoomUpdatedReading = graphql(`
  subscription RoomUpdatedReading($roomId: ID!) {
    roomUpdated(roomId: $roomId) {
      id
      name
      unreadNotifications {
        notificationCount
        highlightCount
      }
    }
  }
`);

const RoomUpdatedTags = graphql(`
  subscription RoomUpdatedTags($roomId: ID!) {
    roomUpdated(roomId: $roomId) {
      id
      tags {
        name
        order
      }
    }
  }
`);

const SetRoomTagForFeed = graphql(`
  mutation SetRoomTagForFeed($input: SetRoomTagInput!) {
    setRoomTag(input: $input) {
      clientMutationId
    }
  }
`);

const RemoveRoomTagForFeed = graphql(`
  mutation RemoveRoomTagForFeed($input: RemoveRoomTagInput!) {
    removeRoomTag(input: $input) {
      clientMutationId
    }
  }
`);

/**
 * The facade on a port, its upstream calls recorded with their query strings: the loop's
 * long-polls carry `since`, where a resolver's snapshot `/sync` does not.
 */
async function startRecordingServer() {
  const calls: string[] = [];
  const agent = new Agent();
  const dispatcher = agent.compose((dispatch) => (options, handler) => {
    calls.push(`${options.method} ${options.path}`);
    return dispatch(options, handler);
  });
  const config = loadConfig({
    MATRIX_HOMESERVER_URL: homeserver().url,
    PORT: '0',
    SYNC_GRACE_PERIOD_MS: '200',
    SYNC_POLL_TIMEOUT_MS: '2000',
  });
  const app = buildApp({ config, logger: createLogger('silent'), dispatcher });
  const url = await app.start();
  const client = (token: string) =>
    createClient({
      url: `${url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${token}` },
    });
  /** The calls but the loop's own syncs (with `since`: the initial one is made before a reset). */
  const resolverCalls = () =>
    calls.filter((call) => !/\/sync\?.*since=/.test(call)).map((call) => call.replace(/\?.*$/, ''));
  return {
    app,
    client,
    resolverCalls,
    reset: () => {
      calls.length = 0;
    },
    async [Symbol.asyncDispose]() {
      await app.stop();
      await agent.close();
    },
  };
}

describe('roomUpdated with the viewer’s unread counts and tags', () => {
  it('should push each change of the counts once, at no call for them or the state', async () => {
    const { upstream, alice, bob, roomId } = await roomWithUnread('pushed-unread', 0);
    await using _upstream = upstream;
    await using server = await startRecordingServer();
    const client = server.client(alice.user.accessToken);
    const feed = subscribe(client, RoomUpdatedReading, { roomId });
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(1), POLL);
    // The long-poll must be running (its initial sync done) before bob writes.
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.reset();

    const message = async (body: string) =>
      sendMessageEvent(bob.client, roomId, 'm.room.message', crypto.randomUUID(), {
        msgtype: 'm.text',
        body,
      });
    await message('one');
    await feed.next(1);
    const { eventId } = await message('two');
    await feed.next(2);
    await using facade = startFacade();
    const marked = await facade.graphql(MarkRead, {
      token: alice.user.accessToken,
      variables: { input: { roomId, eventId } },
    });
    expect(marked.errors).toBeUndefined();
    await feed.next(3);
    // Alice's own message notifies nobody, and changes no count of hers: nothing to push.
    await sendMessageEvent(alice.client, roomId, 'm.room.message', 'mine', {
      msgtype: 'm.text',
      body: 'mine',
    });
    await message('three');
    await feed.next(4);
    await new Promise((resolve) => setTimeout(resolve, 500));

    const room = (notificationCount: number) => ({
      roomUpdated: {
        id: roomId,
        name: 'Chatty',
        unreadNotifications: { notificationCount, highlightCount: 0 },
      },
    });
    expect(feed.values.map((value) => value.data)).toEqual([room(1), room(2), room(0), room(1)]);
    // The counts from the updates (no snapshot /sync), the name from the state read when
    // subscribing (the check that alice may see the room), carried over: not one call.
    expect(server.resolverCalls()).toEqual([]);
    feed.unsubscribe();
    await client.dispose();
  });

  it('should push each change of the tags once, from any client, at no call for them', async () => {
    const { upstream, alice, roomId } = await roomWithUnread('pushed-tags', 0);
    await using _upstream = upstream;
    await using server = await startRecordingServer();
    const client = server.client(alice.user.accessToken);
    const feed = subscribe(client, RoomUpdatedTags, { roomId });
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(1), POLL);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await using facade = startFacade();
    const token = alice.user.accessToken;
    server.reset();

    await facade.graphql(SetRoomTagForFeed, {
      token,
      variables: { input: { roomId, tag: 'm.favourite', order: 0.25 } },
    });
    await feed.next(1);
    await facade.graphql(SetRoomTagForFeed, {
      token,
      variables: { input: { roomId, tag: 'u.work' } },
    });
    await feed.next(2);
    await facade.graphql(RemoveRoomTagForFeed, {
      token,
      variables: { input: { roomId, tag: 'm.favourite' } },
    });
    await feed.next(3);
    // Removing a tag the room does not have changes nothing.
    await facade.graphql(RemoveRoomTagForFeed, {
      token,
      variables: { input: { roomId, tag: 'm.lowpriority' } },
    });
    await facade.graphql(RemoveRoomTagForFeed, {
      token,
      variables: { input: { roomId, tag: 'u.work' } },
    });
    await feed.next(4);
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect(feed.values.map((value) => value.data?.roomUpdated.tags)).toEqual([
      [{ name: 'm.favourite', order: 0.25 }],
      [
        { name: 'm.favourite', order: 0.25 },
        { name: 'u.work', order: null },
      ],
      [{ name: 'u.work', order: null }],
      [],
    ]);
    expect(server.resolverCalls()).toEqual([]);
    feed.unsubscribe();
    await client.dispose();
  });
});

describe("Synapse's incremental /sync and the unread counts", () => {
  it('should list a room whose counts alone changed only when something else of it passes the filter', async () => {
    const { upstream, alice, bob, roomId } = await roomWithUnread('incremental', 0);
    await using _upstream = upstream;
    const nothing = { notTypes: ['*'] };
    const filter = (ephemeral: SyncFilter['room']) => ({
      presence: nothing,
      accountData: nothing,
      room: { timeline: { limit: 5 }, ephemeral: nothing, accountData: nothing, ...ephemeral },
    });
    const quiet = filter({});
    const withReceipts = filter({ ephemeral: { types: ['m.receipt'] } });
    const start = await sync(alice.client, { filter: quiet, fresh: true });

    // Bob's message: the room comes with its timeline, counted.
    const { eventId } = await sendMessageEvent(bob.client, roomId, 'm.room.message', 'u1', {
      msgtype: 'm.text',
      body: 'hello',
    });
    let since = start.nextBatch;
    await vi.waitFor(async () => {
      const next = await sync(alice.client, { filter: quiet, since });
      expect(next.join.get(roomId)?.unreadNotifications.notificationCount).toBe(1);
      since = next.nextBatch;
    }, POLL);

    // Alice's read: her receipt, in the ephemeral part. Filtered out, the room is not listed,
    // though its count dropped to 0; with receipts, it is, with the new count.
    await setReadMarkers(alice.client, roomId, eventId);
    const without = await sync(alice.client, { filter: quiet, since });
    expect(without.join.has(roomId)).toBe(false);
    const withReceipt = await sync(alice.client, { filter: withReceipts, since });
    expect(withReceipt.join.get(roomId)?.unreadNotifications).toEqual({
      notificationCount: 0,
      highlightCount: 0,
    });
  });
});
