import { describe, expect, it } from 'vitest';
import type { MatrixClient } from '../../src/matrix/matrix-client.ts';
import { sendMessageEvent } from '../../src/matrix/room-events.ts';
import { createRoom } from '../../src/matrix/rooms.ts';
import { putRoomTag } from '../../src/matrix/tags.ts';
import { graphql } from '../generated/gql.ts';
import { startFacade } from '../support/facade.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';

const WHOAMI = 'GET /_matrix/client/v3/account/whoami';
const SLIDING_SYNC = 'POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync';
const SYNC = 'GET /_matrix/client/v3/sync';
const listCall = { 'sliding-sync': SLIDING_SYNC, sync: SYNC } as const;
const enc = encodeURIComponent;

const RoomTags = graphql(`
  query RoomTags($id: ID!) {
    room(id: $id) {
      id
      tags {
        name
        order
      }
    }
  }
`);

const SetRoomTag = graphql(`
  mutation SetRoomTag($input: SetRoomTagInput!) {
    setRoomTag(input: $input) {
      clientMutationId
      room {
        id
        tags {
          name
          order
        }
      }
    }
  }
`);

const RemoveRoomTag = graphql(`
  mutation RemoveRoomTag($input: RemoveRoomTagInput!) {
    removeRoomTag(input: $input) {
      room {
        tags {
          name
        }
      }
    }
  }
`);

describe('room tags', () => {
  it('should set, list and remove the viewer’s tags', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'tags-alice');
    const { roomId } = await createRoom(alice.client, { name: 'Tagged' });
    await using facade = startFacade();
    const token = alice.user.accessToken;
    const tagsPath = `/_matrix/client/v3/user/${enc(alice.user.userId)}/rooms/${enc(roomId)}/tags`;

    const none = await facade.graphql(RoomTags, { token, variables: { id: roomId } });
    expect(none.data?.room).toEqual({ id: roomId, tags: [] });

    facade.upstream.reset();
    const favourite = await facade.graphql(SetRoomTag, {
      token,
      variables: { input: { roomId, tag: 'm.favourite', order: 0.25, clientMutationId: 'f' } },
    });
    expect(favourite.errors).toBeUndefined();
    expect(favourite.data?.setRoomTag).toEqual({
      clientMutationId: 'f',
      room: { id: roomId, tags: [{ name: 'm.favourite', order: 0.25 }] },
    });
    // whoami (once per request), the tag, then the payload's tags.
    expect(facade.upstream.requests).toEqual([
      WHOAMI,
      `PUT ${tagsPath}/m.favourite`,
      `GET ${tagsPath}`,
    ]);

    await facade.graphql(SetRoomTag, {
      token,
      variables: { input: { roomId, tag: 'u.work' } },
    });
    const both = await facade.graphql(RoomTags, { token, variables: { id: roomId } });
    expect(both.data?.room?.tags).toEqual([
      { name: 'm.favourite', order: 0.25 },
      { name: 'u.work', order: null },
    ]);

    const removed = await facade.graphql(RemoveRoomTag, {
      token,
      variables: { input: { roomId, tag: 'm.favourite' } },
    });
    expect(removed.data?.removeRoomTag?.room.tags).toEqual([{ name: 'u.work' }]);
  });

  it('should refuse names and orders the spec does not allow before any call', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'tags-refuse');
    const { roomId } = await createRoom(alice.client, {});
    await using facade = startFacade();
    for (const [tag, order, field] of [
      ['m.server_notice', null, 'tag'],
      ['work', null, 'tag'],
      ['u.', null, 'tag'],
      ['m.favourite', 1.5, 'order'],
    ] as const) {
      const refused = await facade.graphql(SetRoomTag, {
        token: alice.user.accessToken,
        variables: { input: { roomId, tag, order } },
      });
      expect(refused.data?.setRoomTag ?? null).toBeNull();
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const removal = await facade.graphql(RemoveRoomTag, {
      token: alice.user.accessToken,
      variables: { input: { roomId, tag: 'm.lowpriority.x' } },
    });
    expect(removal.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'tag' });
    expect(facade.upstream.requests).toEqual([]);
  });

  it('should pass on the homeserver’s refusal with its errcode', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'tags-token');
    const { roomId } = await createRoom(alice.client, {});
    await using facade = startFacade();
    const refused = await facade.graphql(SetRoomTag, {
      token: 'not-a-token',
      variables: { input: { roomId, tag: 'm.favourite' } },
    });
    expect(refused.errors?.[0]).toMatchObject({
      extensions: { code: 'UNAUTHENTICATED', matrix: { errcode: 'M_UNKNOWN_TOKEN', status: 401 } },
    });
  });
});

const RoomListTags = graphql(`
  query RoomListTags($tag: String, $first: Int, $after: String) {
    rooms(tag: $tag, first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          tags {
            name
            order
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const RoomListTagsUnread = graphql(`
  query RoomListTagsUnread {
    rooms(first: 20) {
      edges {
        node {
          id
          tags {
            name
          }
          unreadNotifications {
            notificationCount
          }
        }
      }
    }
  }
`);

/**
 * alice's rooms, most recent first: `fav` (m.favourite at 0.5, u.work), `plain` (no tags),
 * `fav2` (m.favourite), `low` (m.lowpriority), each with a message so the order is by messages.
 */
async function taggedRooms(prefix: string) {
  const upstream = newUpstream();
  const alice = await newUserClient(upstream, prefix);
  const userId = alice.user.userId;
  const room = async (name: string, tags: [string, number | null][]) => {
    const { roomId } = await createRoom(alice.client, { name });
    for (const [tag, order] of tags) {
      await putRoomTag(alice.client, userId, roomId, tag, order);
    }
    return roomId;
  };
  const low = await room('Low', [['m.lowpriority', null]]);
  const fav2 = await room('Fav2', [['m.favourite', null]]);
  const plain = await room('Plain', []);
  const fav = await room('Fav', [
    ['m.favourite', 0.5],
    ['u.work', null],
  ]);
  // Messages last, in this order, so that bump stamps and activity agree.
  for (const roomId of [low, fav2, plain, fav]) {
    await say(alice.client, roomId, 'hi');
  }
  return { upstream, alice, fav, plain, fav2, low };
}

async function say(client: MatrixClient, roomId: string, body: string) {
  return sendMessageEvent(client, roomId, 'm.room.message', crypto.randomUUID(), {
    msgtype: 'm.text',
    body,
  });
}

describe.each(['sliding-sync', 'sync'] as const)('tags in the room list (%s plan)', (plan) => {
  it('should come with the list at no extra call, unread counts too', async () => {
    const { upstream, alice, fav, plain, fav2, low } = await taggedRooms(`list-tags-${plan}`);
    await using _upstream = upstream;
    await using facade = startFacade({ ROOM_LIST_PLAN: plan });
    const token = alice.user.accessToken;

    const list = await facade.graphql(RoomListTags, { token, variables: { first: 20 } });
    expect(list.errors).toBeUndefined();
    expect(list.data?.rooms.edges.map((edge) => edge.node)).toEqual([
      {
        id: fav,
        tags: [
          { name: 'm.favourite', order: 0.5 },
          { name: 'u.work', order: null },
        ],
      },
      { id: plain, tags: [] },
      { id: fav2, tags: [{ name: 'm.favourite', order: null }] },
      { id: low, tags: [{ name: 'm.lowpriority', order: null }] },
    ]);
    expect(facade.upstream.requests).toEqual([listCall[plan]]);

    // With the unread counts, /sync serves on either plan (Synapse's sliding sync has
    // placeholder counts), its tags included: still one call.
    facade.upstream.reset();
    const both = await facade.graphql(RoomListTagsUnread, { token });
    expect(both.errors).toBeUndefined();
    expect(both.data?.rooms.edges.map((edge) => edge.node)).toEqual([
      {
        id: fav,
        tags: [{ name: 'm.favourite' }, { name: 'u.work' }],
        unreadNotifications: { notificationCount: 0 },
      },
      { id: plain, tags: [], unreadNotifications: { notificationCount: 0 } },
      { id: fav2, tags: [{ name: 'm.favourite' }], unreadNotifications: { notificationCount: 0 } },
      { id: low, tags: [{ name: 'm.lowpriority' }], unreadNotifications: { notificationCount: 0 } },
    ]);
    expect(facade.upstream.requests).toEqual([SYNC]);
  });

  it('should list only the rooms with a tag, in one call a page, with cursors of that tag only', async () => {
    const { upstream, alice, fav, fav2, low } = await taggedRooms(`filter-tags-${plan}`);
    await using _upstream = upstream;
    await using facade = startFacade({ ROOM_LIST_PLAN: plan });
    const token = alice.user.accessToken;

    const first = await facade.graphql(RoomListTags, {
      token,
      variables: { tag: 'm.favourite', first: 1 },
    });
    expect(first.errors).toBeUndefined();
    expect(first.data?.rooms.edges.map((edge) => edge.node.id)).toEqual([fav]);
    expect(first.data?.rooms.pageInfo.hasNextPage).toBe(true);
    expect(facade.upstream.requests).toEqual([listCall[plan]]);

    facade.upstream.reset();
    const after = first.data?.rooms.pageInfo.endCursor ?? null;
    const second = await facade.graphql(RoomListTags, {
      token,
      variables: { tag: 'm.favourite', first: 5, after },
    });
    expect(second.data?.rooms.edges.map((edge) => edge.node.id)).toEqual([fav2]);
    expect(second.data?.rooms.pageInfo.hasNextPage).toBe(false);
    expect(facade.upstream.requests).toEqual([listCall[plan]]);

    const lowOnly = await facade.graphql(RoomListTags, {
      token,
      variables: { tag: 'm.lowpriority' },
    });
    expect(lowOnly.data?.rooms.edges.map((edge) => edge.node.id)).toEqual([low]);
    const user = await facade.graphql(RoomListTags, { token, variables: { tag: 'u.work' } });
    expect(user.data?.rooms.edges.map((edge) => edge.node.id)).toEqual([fav]);
    const none = await facade.graphql(RoomListTags, { token, variables: { tag: 'u.nothing' } });
    expect(none.data?.rooms.edges).toEqual([]);

    // A cursor belongs to its tag: refused without it or with another, before any call.
    facade.upstream.reset();
    for (const tag of [null, 'm.lowpriority']) {
      const refused = await facade.graphql(RoomListTags, { token, variables: { tag, after } });
      expect(refused.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'after',
      });
    }
    expect(facade.upstream.requests).toEqual([]);
  });
});

describe('rooms(tag:)', () => {
  it('should refuse a tag name the spec does not allow before any call', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'filter-refuse');
    await using facade = startFacade();
    for (const tag of ['work', 'm.server_notice', 'u.', 'u.a b']) {
      const refused = await facade.graphql(RoomListTags, {
        token: alice.user.accessToken,
        variables: { tag },
      });
      expect(refused.data?.rooms ?? null).toBeNull();
      expect(refused.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'tag',
      });
    }
    expect(facade.upstream.requests).toEqual([]);
  });
});

describe("Synapse's account data extension", () => {
  it("should list every listed room's account data, m.tag as an event, [] for a room without any", async () => {
    const { upstream, alice, fav, plain } = await taggedRooms('extension-shape');
    await using _upstream = upstream;
    const list = { ranges: [[0, 99]], required_state: [], timeline_limit: 0 };
    // Without `conn_id` (what the facade sends), and with a new one: the same initial answer.
    for (const connection of [{}, { conn_id: `probe-${crypto.randomUUID()}` }]) {
      const answer = await alice.client.send<{
        extensions: { account_data: { global: unknown[]; rooms: Record<string, unknown[]> } };
      }>({
        method: 'POST',
        path: '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync',
        query: { timeout: 0 },
        body: {
          ...connection,
          lists: { rooms: list },
          extensions: { account_data: { enabled: true, lists: ['rooms'], rooms: [] } },
        },
      });
      const { rooms, global } = answer.extensions.account_data;
      expect(Object.keys(rooms)).toHaveLength(4);
      expect(rooms[fav]).toEqual([
        { type: 'm.tag', content: { tags: { 'm.favourite': { order: 0.5 }, 'u.work': {} } } },
      ]);
      expect(rooms[plain]).toEqual([]);
      expect(global.length).toBeGreaterThan(0);
    }
  });
});
