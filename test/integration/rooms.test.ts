import { describe, expect, it } from 'vitest';
import { setAccountData, setDisplayName } from '../../src/matrix/account.ts';
import { sendMessageEvent } from '../../src/matrix/room-events.ts';
import { putStateEvent } from '../../src/matrix/room-state.ts';
import {
  banUser,
  createRoom,
  inviteUser,
  joinRoom,
  kickUser,
  leaveRoom,
} from '../../src/matrix/rooms.ts';
import type { RoomListPlan } from '../../src/matrix/sliding-sync.ts';
import { putRoomTag } from '../../src/matrix/tags.ts';
import { graphql } from '../generated/gql.ts';
import { startFacade } from '../support/facade.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { homeserver, newUpstream, newUserClient } from '../support/homeserver.ts';

const RoomDetails = graphql(`
  query RoomDetails($id: ID!) {
    room(id: $id) {
      id
      name
      topic
      avatarUrl
      canonicalAlias
      joinRule
      joinRuleValue
      historyVisibility
      historyVisibilityValue
      guestAccess
      guestAccessValue
      creator {
        id
      }
      version
      isEncrypted
      isDirect
      myMembership
      joinedMemberCount
      invitedMemberCount
      powerLevels {
        users {
          user {
            id
          }
          level
        }
        usersDefault
        eventsDefault
        stateDefault
        ban
        kick
        invite
        redact
        events {
          type
          level
        }
      }
    }
  }
`);

const RoomMembers = graphql(`
  query RoomMembers($id: ID!, $membership: Membership, $first: Int, $after: String) {
    room(id: $id) {
      members(membership: $membership, first: $first, after: $after) {
        edges {
          cursor
          node {
            user {
              id
            }
            displayName
            membership
            powerLevel
            reason
          }
        }
        pageInfo {
          hasNextPage
          hasPreviousPage
          endCursor
        }
      }
    }
  }
`);

const RoomList = graphql(`
  query RoomList($first: Int, $after: String, $membership: Membership) {
    rooms(first: $first, after: $after, membership: $membership) {
      edges {
        cursor
        node {
          id
          name
          topic
          joinedMemberCount
          myMembership
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        endCursor
      }
    }
  }
`);

const RoomListWithMembers = graphql(`
  query RoomListWithMembers {
    rooms(first: 20) {
      edges {
        node {
          name
          topic
          joinedMemberCount
          myMembership
          members(first: 5) {
            edges {
              node {
                displayName
                powerLevel
              }
            }
          }
        }
      }
    }
  }
`);

const DirectRoom = graphql(`
  query DirectRoom($userId: ID!) {
    directRoom(userId: $userId) {
      id
      isDirect
    }
  }
`);

const UserAndNode = graphql(`
  query UserAndNode($userId: ID!, $nodeId: ID!) {
    user(id: $userId) {
      id
      displayName
    }
    node(id: $nodeId) {
      __typename
      id
      ... on Room {
        name
      }
    }
  }
`);

const RoomByAlias = graphql(`
  query RoomByAlias($alias: String!) {
    roomByAlias(alias: $alias) {
      id
      name
    }
  }
`);

const ViewerProfile = graphql(`
  query ViewerProfile {
    viewer {
      userId
      user {
        displayName
      }
    }
  }
`);

/** alice's room with bob joined (promoted), carol invited, dave banned and erin kicked. */
async function populatedRoom() {
  const upstream = newUpstream();
  const [alice, bob, carol, dave, erin] = await Promise.all(
    ['alice', 'bob', 'carol', 'dave', 'erin'].map((name) => newUserClient(upstream, name)),
  );
  if (!alice || !bob || !carol || !dave || !erin) {
    throw new Error('registration failed');
  }
  const aliasName = `populated-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const { roomId } = await createRoom(alice.client, {
    name: 'Populated',
    topic: 'Every membership state',
    roomAliasName: aliasName,
    preset: 'public_chat',
    powerLevelContentOverride: { users: { [alice.user.userId]: 100, [bob.user.userId]: 50 } },
  });
  await setDisplayName(bob.client, bob.user.userId, 'Bob B.');
  await Promise.all([joinRoom(bob.client, roomId), joinRoom(dave.client, roomId)]);
  await joinRoom(erin.client, roomId);
  await inviteUser(alice.client, roomId, carol.user.userId);
  await banUser(alice.client, roomId, dave.user.userId, { reason: 'spam' });
  await kickUser(alice.client, roomId, erin.user.userId, { reason: 'off topic' });
  return {
    upstream,
    roomId,
    alias: `#${aliasName}:${homeserver().serverName}`,
    alice,
    bob,
    carol,
    dave,
    erin,
  };
}

describe('room', () => {
  it('should resolve every state-derived field from one /state call', async () => {
    const { upstream, roomId, alias, alice, bob } = await populatedRoom();
    await using _upstream = upstream;
    await using facade = startFacade();

    const result = await facade.graphql(RoomDetails, {
      token: alice.user.accessToken,
      variables: { id: roomId },
    });
    expect(result.errors).toBeUndefined();
    const room = result.data?.room;
    expect(room).toMatchObject({
      id: roomId,
      name: 'Populated',
      topic: 'Every membership state',
      avatarUrl: null,
      canonicalAlias: alias,
      joinRule: 'PUBLIC',
      joinRuleValue: 'public',
      historyVisibility: 'SHARED',
      historyVisibilityValue: 'shared',
      // Synapse's public_chat preset writes no m.room.guest_access: the room does not say.
      guestAccess: null,
      guestAccessValue: null,
      creator: { id: alice.user.userId },
      version: '11',
      isEncrypted: false,
      isDirect: false,
      myMembership: 'JOIN',
      joinedMemberCount: 2,
      invitedMemberCount: 1,
    });
    expect(room?.powerLevels).toMatchObject({
      users: [
        { user: { id: alice.user.userId }, level: 100 },
        { user: { id: bob.user.userId }, level: 50 },
      ],
      usersDefault: 0,
      ban: 50,
      kick: 50,
      redact: 50,
      // Synapse's presets write every level explicitly; invite is 50 there (the spec default,
      // for a missing key, is 0).
      invite: 50,
      stateDefault: 50,
      eventsDefault: 0,
    });
    expect(room?.powerLevels.events).toContainEqual({ type: 'm.room.power_levels', level: 100 });
    // One /state serves every state-derived field; whoami (for myMembership) and m.direct (for
    // isDirect) are the viewer's own, once per request whatever the number of rooms.
    expect(facade.upstream.requests.sort()).toEqual([
      'GET /_matrix/client/v3/account/whoami',
      `GET /_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`,
      `GET /_matrix/client/v3/user/${encodeURIComponent(alice.user.userId)}/account_data/m.direct`,
    ]);
  });

  it('should find a room by alias, its id the room ID, and answer null for an unknown alias', async () => {
    const { upstream, roomId, alias, bob } = await populatedRoom();
    await using _upstream = upstream;
    await using facade = startFacade();
    const byAlias = await facade.graphql(RoomByAlias, {
      token: bob.user.accessToken,
      variables: { alias },
    });
    expect(byAlias.errors).toBeUndefined();
    expect(byAlias.data?.roomByAlias).toEqual({ id: roomId, name: 'Populated' });
    const unknown = await facade.graphql(RoomByAlias, {
      token: bob.user.accessToken,
      variables: { alias: `#no-such-alias-${Date.now()}:${homeserver().serverName}` },
    });
    expect(unknown.errors).toBeUndefined();
    expect(unknown.data?.roomByAlias).toBeNull();
  });

  it('should refuse an alias as a node or room ID, before any upstream call', async () => {
    const { upstream, alias, bob } = await populatedRoom();
    await using _upstream = upstream;
    await using facade = startFacade();
    const asRoomId = await facade.graphql(RoomDetails, {
      token: bob.user.accessToken,
      variables: { id: alias },
    });
    expect(asRoomId.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    const asNode = await facade.graphql(UserAndNode, {
      token: bob.user.accessToken,
      variables: { userId: bob.user.userId, nodeId: alias },
    });
    expect(asNode.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(facade.upstream.requests.filter((request) => /directory|state/.test(request))).toEqual(
      [],
    );
  });

  it('should answer null with the raw value for a room setting the spec does not define', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'settings');
    const { roomId } = await createRoom(alice.client, { preset: 'private_chat' });
    await putStateEvent(alice.client, roomId, 'm.room.guest_access', '', {
      guest_access: 'org.example.maybe',
    });
    await using facade = startFacade();
    const result = await facade.graphql(RoomDetails, {
      token: alice.user.accessToken,
      variables: { id: roomId },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.room).toMatchObject({
      joinRule: 'INVITE',
      joinRuleValue: 'invite',
      guestAccess: null,
      guestAccessValue: 'org.example.maybe',
    });
  });

  it('should refuse a room the viewer cannot see with FORBIDDEN and the Matrix errcode', async () => {
    await using upstream = newUpstream();
    const [owner, stranger] = await Promise.all([
      newUserClient(upstream, 'owner'),
      newUserClient(upstream, 'stranger'),
    ]);
    const { roomId } = await createRoom(owner.client, { preset: 'private_chat' });
    await using facade = startFacade();
    const result = await facade.graphql(RoomDetails, {
      token: stranger.user.accessToken,
      variables: { id: roomId },
    });
    expect(result.errors?.[0]).toMatchObject({
      path: ['room'],
      extensions: { code: 'FORBIDDEN', matrix: { errcode: 'M_FORBIDDEN', status: 403 } },
    });
  });

  it('should show an invited room from its invite state', async () => {
    const { upstream, roomId, carol } = await populatedRoom();
    await using _upstream = upstream;
    await using facade = startFacade();
    const result = await facade.graphql(RoomDetails, {
      token: carol.user.accessToken,
      variables: { id: roomId },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.room).toMatchObject({
      name: 'Populated',
      myMembership: 'INVITE',
      joinRule: 'PUBLIC',
      joinedMemberCount: null,
      invitedMemberCount: null,
    });
  });

  it('should refuse malformed IDs with BAD_USER_INPUT before any upstream call', async () => {
    await using facade = startFacade();
    // A lone surrogate cannot be encoded into a URL (it once was an INTERNAL_SERVER_ERROR).
    for (const id of ['not-a-room', '!', '#no-server', '! spaced:hs', '!\ud800:hs']) {
      const result = await facade.graphql(RoomDetails, { token: 'any', variables: { id } });
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    }
    expect(facade.upstream.count()).toBe(0);
  });
});

describe('room members', () => {
  it('should list members in every state with their room profile, level and reason', async () => {
    const { upstream, roomId, alice, bob, carol, dave, erin } = await populatedRoom();
    await using _upstream = upstream;
    await using facade = startFacade();
    const result = await facade.graphql(RoomMembers, {
      token: alice.user.accessToken,
      variables: { id: roomId, first: 10 },
    });
    expect(result.errors).toBeUndefined();
    const members = result.data?.room?.members?.edges.map((edge) => edge.node);
    expect(members).toEqual([
      {
        user: { id: alice.user.userId },
        displayName: alice.user.localpart,
        membership: 'JOIN',
        powerLevel: 100,
        reason: null,
      },
      {
        user: { id: bob.user.userId },
        displayName: 'Bob B.',
        membership: 'JOIN',
        powerLevel: 50,
        reason: null,
      },
      ...[
        { user: carol.user, membership: 'INVITE', reason: null, displayName: carol.user.localpart },
        // A ban or kick event is sent by the moderator and carries no profile of the target.
        { user: dave.user, membership: 'BAN', reason: 'spam', displayName: null },
        { user: erin.user, membership: 'LEAVE', reason: 'off topic', displayName: null },
      ]
        .sort((a, b) => a.user.localpart.localeCompare(b.user.localpart))
        .map(({ user, ...rest }) => ({ user: { id: user.userId }, powerLevel: 0, ...rest })),
    ]);
    expect(result.data?.room?.members?.pageInfo).toMatchObject({
      hasNextPage: false,
      hasPreviousPage: false,
    });
  });

  it('should filter by membership and page with cursors', async () => {
    const { upstream, roomId, alice, bob } = await populatedRoom();
    await using _upstream = upstream;
    await using facade = startFacade();
    const joined = await facade.graphql(RoomMembers, {
      token: alice.user.accessToken,
      variables: { id: roomId, membership: 'JOIN', first: 1 },
    });
    const firstPage = joined.data?.room?.members;
    expect(firstPage?.edges.map((edge) => edge.node.user.id)).toEqual([alice.user.userId]);
    expect(firstPage?.pageInfo.hasNextPage).toBe(true);
    const second = await facade.graphql(RoomMembers, {
      token: alice.user.accessToken,
      variables: {
        id: roomId,
        membership: 'JOIN',
        first: 1,
        after: firstPage?.pageInfo.endCursor ?? null,
      },
    });
    expect(second.data?.room?.members?.edges.map((edge) => edge.node.user.id)).toEqual([
      bob.user.userId,
    ]);
    expect(second.data?.room?.members?.pageInfo).toMatchObject({
      hasNextPage: false,
      hasPreviousPage: true,
    });
  });

  it('should refuse a forged cursor and a page above the cap with BAD_USER_INPUT', async () => {
    const { upstream, roomId, alice } = await populatedRoom();
    await using _upstream = upstream;
    await using facade = startFacade();
    const forged = await facade.graphql(RoomMembers, {
      token: alice.user.accessToken,
      variables: { id: roomId, first: 1, after: 'bm90LWEtY3Vyc29y' },
    });
    expect(forged.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'after',
    });
    const tooMany = await facade.graphql(RoomMembers, {
      token: alice.user.accessToken,
      variables: { id: roomId, first: 101 },
    });
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'first',
    });
  });
});

const SLIDING_SYNC = 'POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync';
const SYNC = 'GET /_matrix/client/v3/sync';
const VERSIONS = 'GET /_matrix/client/versions';
const WHOAMI = 'GET /_matrix/client/v3/account/whoami';
/** The `/messages` call of one room, as the counting dispatcher records it. */
const messagesOf = (roomId: string) =>
  `GET /_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages`;

/** The facade with its room list plan configured (ROOM_LIST_PLAN). */
function facadeWithPlan(plan: RoomListPlan, environment: Record<string, string> = {}) {
  return startFacade({ ...environment, ROOM_LIST_PLAN: plan });
}

/** The one upstream call that serves a room list page on each plan. */
const listCall = { 'sliding-sync': SLIDING_SYNC, sync: SYNC } as const;

describe.each(['sliding-sync', 'sync'] as const)('rooms (%s plan)', (plan) => {
  it('should list 20 rooms with their members in one call (sliding sync, once the token is known) or two (/sync)', async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'many-alice'),
      newUserClient(upstream, 'many-bob'),
    ]);
    const roomIds: string[] = [];
    for (let index = 0; index < 20; index++) {
      const { roomId } = await createRoom(alice.client, {
        name: `Room ${index}`,
        topic: `Topic ${index}`,
        preset: 'public_chat',
      });
      roomIds.push(roomId);
    }
    await Promise.all(roomIds.slice(0, 10).map((roomId) => joinRoom(bob.client, roomId)));
    // The newest activity: a room alice joined and left, where bob stays. Among all its member
    // events, only alice's own says she is not in it.
    const gone = await createRoom(bob.client, { name: 'Gone', preset: 'public_chat' });
    await joinRoom(alice.client, gone.roomId);
    await leaveRoom(alice.client, gone.roomId);

    await using facade = facadeWithPlan(plan);
    const withMembers = await facade.graphql(RoomListWithMembers, {
      token: alice.user.accessToken,
    });
    expect(withMembers.errors).toBeUndefined();
    const nodes = withMembers.data?.rooms.edges.map((edge) => edge.node) ?? [];
    expect(nodes).toHaveLength(20);
    expect(new Set(nodes.map((node) => node.name))).toEqual(
      new Set(roomIds.map((_, index) => `Room ${index}`)),
    );
    for (const node of nodes) {
      const index = Number(node.name?.split(' ')[1]);
      expect(node).toMatchObject({
        topic: `Topic ${index}`,
        myMembership: 'JOIN',
        joinedMemberCount: index < 10 ? 2 : 1,
      });
      expect(node.members?.edges[0]?.node).toEqual({
        displayName: alice.user.localpart,
        powerLevel: 100,
      });
    }
    const bobs = nodes.find((node) => node.name === 'Room 3')?.members?.edges.map((e) => e.node);
    expect(bobs).toEqual([
      { displayName: alice.user.localpart, powerLevel: 100 },
      { displayName: bob.user.localpart, powerLevel: 0 },
    ]);
    if (plan === 'sliding-sync') {
      // The member lists come with the list; which member event is alice's own takes her user
      // ID, asked alongside the first time (a token's whoami is remembered for a minute).
      expect([...facade.upstream.requests].sort()).toEqual([SLIDING_SYNC, WHOAMI].sort());
      facade.upstream.reset();
      const again = await facade.graphql(RoomListWithMembers, { token: alice.user.accessToken });
      expect(again.data).toEqual(withMembers.data);
      expect(facade.upstream.requests).toEqual([SLIDING_SYNC]);
    } else {
      // The members of all 20 rooms come from one /sync filtered to those rooms.
      expect(facade.upstream.requests).toEqual([SYNC, SYNC]);
    }

    facade.upstream.reset();
    const withoutMembers = await facade.graphql(RoomList, {
      token: alice.user.accessToken,
      variables: { first: 20 },
    });
    expect(withoutMembers.data?.rooms.edges).toHaveLength(20);
    expect(facade.upstream.requests).toEqual([listCall[plan]]);
  });

  it('should order by activity, page with cursors, and list invites and left rooms', async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'order-alice'),
      newUserClient(upstream, 'order-bob'),
    ]);
    const older = await createRoom(alice.client, { name: 'Older' });
    const newer = await createRoom(alice.client, { name: 'Newer' });
    // A message in the older room makes it the most recent.
    await sendMessageEvent(alice.client, older.roomId, 'm.room.message', 'busy', {
      msgtype: 'm.text',
      body: 'busy',
    });
    const invite = await createRoom(bob.client, {
      name: 'Invitation',
      invite: [alice.user.userId],
    });
    const left = await createRoom(bob.client, { name: 'Left behind', preset: 'public_chat' });
    await joinRoom(alice.client, left.roomId);
    await leaveRoom(alice.client, left.roomId);

    await using facade = facadeWithPlan(plan);
    const token = alice.user.accessToken;
    const first = await facade.graphql(RoomList, { token, variables: { first: 1 } });
    expect(first.data?.rooms.edges.map((edge) => edge.node.name)).toEqual(['Older']);
    expect(first.data?.rooms.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const second = await facade.graphql(RoomList, {
      token,
      variables: { first: 5, after: first.data?.rooms.pageInfo.endCursor ?? null },
    });
    expect(second.data?.rooms.edges.map((edge) => edge.node.name)).toEqual(['Newer']);
    expect(second.data?.rooms.pageInfo).toMatchObject({
      hasNextPage: false,
      hasPreviousPage: true,
    });
    expect(newer.roomId).toBe(second.data?.rooms.edges[0]?.node.id);

    const invites = await facade.graphql(RoomList, { token, variables: { membership: 'INVITE' } });
    expect(invites.data?.rooms.edges.map((edge) => edge.node)).toEqual([
      expect.objectContaining({ id: invite.roomId, name: 'Invitation', myMembership: 'INVITE' }),
    ]);
    const leftRooms = await facade.graphql(RoomList, { token, variables: { membership: 'LEAVE' } });
    expect(leftRooms.data?.rooms.edges.map((edge) => edge.node)).toEqual([
      expect.objectContaining({ id: left.roomId, name: 'Left behind', myMembership: 'LEAVE' }),
    ]);
  });

  it('should go on after the cursor room when a room of the next page moves to the top', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'moving');
    const made: string[] = [];
    for (const name of ['A', 'B', 'C', 'D']) {
      made.push((await createRoom(alice.client, { name })).roomId);
    }
    const say = (roomId: string, body: string) =>
      sendMessageEvent(alice.client, roomId, 'm.room.message', `${body}-${Date.now()}`, {
        msgtype: 'm.text',
        body,
      });
    // Distinct activity times for the /sync plan's order (by timestamp).
    for (const roomId of made) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      await say(roomId, 'hello');
    }
    await using facade = facadeWithPlan(plan);
    const token = alice.user.accessToken;
    const first = await facade.graphql(RoomList, { token, variables: { first: 2 } });
    expect(first.data?.rooms.edges.map((edge) => edge.node.name)).toEqual(['D', 'C']);
    // B (on the next page) becomes the most recent: with offsets, C would come again.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await say(made[1] ?? '', 'news');
    const second = await facade.graphql(RoomList, {
      token,
      variables: { first: 2, after: first.data?.rooms.pageInfo.endCursor ?? null },
    });
    expect(second.data?.rooms.edges.map((edge) => edge.node.name)).toEqual(['A']);
    expect(second.data?.rooms.pageInfo.hasNextPage).toBe(false);
    const top = await facade.graphql(RoomList, { token, variables: { first: 1 } });
    expect(top.data?.rooms.edges.map((edge) => edge.node.name)).toEqual(['B']);
  });

  it('should refuse a forged cursor and a page above the cap before any upstream call', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'forged');
    await createRoom(alice.client, { name: 'Only' });
    await using facade = facadeWithPlan(plan);
    const token = alice.user.accessToken;
    const page = await facade.graphql(RoomList, { token, variables: { first: 1 } });
    const cursor = page.data?.rooms.pageInfo.endCursor ?? '';
    facade.upstream.reset();
    for (const after of [
      'bm90LWEtY3Vyc29y',
      'YXJyYXljb25uZWN0aW9uOjA=',
      `${cursor.slice(0, -2)}xx`,
    ]) {
      const forged = await facade.graphql(RoomList, { token, variables: { first: 1, after } });
      expect(forged.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'after',
      });
    }
    // A cursor of one membership's list is no cursor of another's.
    const elsewhere = await facade.graphql(RoomList, {
      token,
      variables: { first: 1, after: cursor, membership: 'INVITE' },
    });
    expect(elsewhere.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    const tooMany = await facade.graphql(RoomList, { token, variables: { first: 101 } });
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'first',
    });
    expect(facade.upstream.count()).toBe(0);
  });
});

describe('rooms plan choice', () => {
  it('should ask /versions once per upstream under auto, then serve each page with one sliding sync', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'auto');
    await createRoom(alice.client, { name: 'Auto' });
    await using facade = startFacade();
    const token = alice.user.accessToken;
    const first = await facade.graphql(RoomList, { token, variables: { first: 50 } });
    expect(first.data?.rooms.edges.map((edge) => edge.node.name)).toEqual(['Auto']);
    expect(facade.upstream.requests).toEqual([VERSIONS, SLIDING_SYNC]);
    facade.upstream.reset();
    await facade.graphql(RoomList, { token, variables: { first: 50 } });
    expect(facade.upstream.requests).toEqual([SLIDING_SYNC]);
  });

  it('should fall back to /sync when /versions does not announce sliding sync', async () => {
    await using proxy = await startFaultProxy(homeserver().url);
    proxy.inject(
      { kind: 'json', body: { versions: ['v1.11'], unstable_features: {} } },
      { path: /^\/_matrix\/client\/versions/, times: Infinity },
    );
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'fallback');
    await createRoom(alice.client, { name: 'Plain' });
    await using facade = startFacade({ MATRIX_HOMESERVER_URL: proxy.url });
    const token = alice.user.accessToken;
    const list = await facade.graphql(RoomList, { token, variables: { first: 5 } });
    expect(list.errors).toBeUndefined();
    expect(list.data?.rooms.edges.map((edge) => edge.node.name)).toEqual(['Plain']);
    expect(facade.upstream.requests).toEqual([VERSIONS, SYNC]);
    facade.upstream.reset();
    await facade.graphql(RoomList, { token, variables: { first: 5 } });
    expect(facade.upstream.requests).toEqual([SYNC]);
  });

  it('should cost one upstream call in all for a room list with a refused token', async () => {
    await using facade = startFacade();
    const result = await facade.graphql(RoomList, {
      token: 'syt_bogus_token',
      variables: { first: 5 },
    });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(facade.upstream.count()).toBe(1);
  });
});

describe('loaders', () => {
  it("should never answer one user's query with another's data, even concurrently", async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'own-alice'),
      newUserClient(upstream, 'own-bob'),
    ]);
    const [aliceRoom, bobRoom] = await Promise.all([
      createRoom(alice.client, { name: 'Alice only' }),
      createRoom(bob.client, { name: 'Bob only' }),
    ]);
    await using facade = startFacade();
    const ask = (token: string) => facade.graphql(RoomList, { token, variables: { first: 10 } });
    const answers = await Promise.all([
      ask(alice.user.accessToken),
      ask(bob.user.accessToken),
      ask(alice.user.accessToken),
      ask(bob.user.accessToken),
    ]);
    const ids = answers.map((answer) => answer.data?.rooms.edges.map((edge) => edge.node.id));
    expect(ids).toEqual([
      [aliceRoom.roomId],
      [bobRoom.roomId],
      [aliceRoom.roomId],
      [bobRoom.roomId],
    ]);
    // Each request made its own /sync with its own token: nothing was shared.
    expect(facade.upstream.count(/\/sync$/)).toBe(4);
  });
});

describe('directRoom', () => {
  it("should find the room listed in the viewer's m.direct, and null for others", async () => {
    await using upstream = newUpstream();
    const [alice, bob, carol] = await Promise.all([
      newUserClient(upstream, 'dm-alice'),
      newUserClient(upstream, 'dm-bob'),
      newUserClient(upstream, 'dm-carol'),
    ]);
    const { roomId } = await createRoom(alice.client, {
      preset: 'trusted_private_chat',
      isDirect: true,
      invite: [bob.user.userId],
    });
    await setAccountData(alice.client, alice.user.userId, 'm.direct', {
      [bob.user.userId]: [roomId],
    });
    await using facade = startFacade();
    const found = await facade.graphql(DirectRoom, {
      token: alice.user.accessToken,
      variables: { userId: bob.user.userId },
    });
    expect(found.data?.directRoom).toEqual({ id: roomId, isDirect: true });
    expect(facade.upstream.requests).toEqual(['GET /_matrix/client/v3/sync']);
    const none = await facade.graphql(DirectRoom, {
      token: alice.user.accessToken,
      variables: { userId: carol.user.userId },
    });
    expect(none.errors).toBeUndefined();
    expect(none.data?.directRoom).toBeNull();
  });
});

// The page both queries below compare, spread into each (codegen adds it to their documents).
graphql(`
  fragment LatestEventsPage on RoomEventConnection {
    edges {
      cursor
      node {
        id
        type
      }
    }
    pageInfo {
      hasPreviousPage
      hasNextPage
    }
  }
`);

const RoomsWithLatestEvents = graphql(`
  query RoomsWithLatestEvents($last: Int!, $types: [String!]) {
    rooms(first: 10) {
      edges {
        node {
          id
          messages(last: $last, types: $types) {
            ...LatestEventsPage
          }
        }
      }
    }
  }
`);

const OneRoomLatestEvents = graphql(`
  query OneRoomLatestEvents($id: ID!, $last: Int!, $types: [String!]) {
    room(id: $id) {
      messages(last: $last, types: $types) {
        ...LatestEventsPage
      }
    }
  }
`);

describe('the state a sliding room list asks for', () => {
  it('should ask for the types the selected fields read, and read the full state for a field it did not see', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'list-state');
    const { roomId } = await createRoom(alice.client, { name: 'Narrow', topic: 'About' });
    await using facade = facadeWithPlan('sliding-sync');
    const token = alice.user.accessToken;

    // Every field the list saw: one call.
    const seen = await facade.graphql(
      '{ rooms(first: 5) { edges { node { id name topic joinRule isEncrypted } } } }',
      { token },
    );
    expect(seen.data).toEqual({
      rooms: {
        edges: [
          {
            node: {
              id: roomId,
              name: 'Narrow',
              topic: 'About',
              joinRule: 'INVITE',
              isEncrypted: false,
            },
          },
        ],
      },
    });
    expect(facade.upstream.requests).toEqual([SLIDING_SYNC]);

    // `topic` behind a fragment on Node is not what the list planned for: its listing lacks the
    // type, so the room's full state answers it (one more call), never a wrong null.
    facade.upstream.reset();
    const hidden = await facade.graphql(
      '{ rooms(first: 5) { edges { node { name ... on Node { ... on Room { topic } } } } } }',
      { token },
    );
    expect(hidden.data).toEqual({
      rooms: { edges: [{ node: { name: 'Narrow', topic: 'About' } }] },
    });
    expect(facade.upstream.requests).toEqual([
      SLIDING_SYNC,
      `GET /_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`,
    ]);
  });
});

describe('the tags a sliding room list asks for', () => {
  it('should let a list asked with tags answer a list without, and read tags hidden from it per room', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'list-tags');
    const { roomId } = await createRoom(alice.client, { name: 'Starred' });
    await putRoomTag(alice.client, alice.user.userId, roomId, 'm.favourite', null);
    await using facade = facadeWithPlan('sliding-sync');
    const token = alice.user.accessToken;

    // The tag filter asks for tags; the plain list (resolved after it) takes the same answer.
    const both = await facade.graphql(
      `{ starred: rooms(tag: "m.favourite") { edges { node { id name } } }
         all: rooms(first: 5) { edges { node { id name } } } }`,
      { token },
    );
    expect(both.data).toEqual({
      starred: { edges: [{ node: { id: roomId, name: 'Starred' } }] },
      all: { edges: [{ node: { id: roomId, name: 'Starred' } }] },
    });
    expect(facade.upstream.requests).toEqual([SLIDING_SYNC]);

    // `tags` behind a fragment on Node is not what the list planned for: its listing has no tags
    // (unknown, not none), so the room's own call answers it.
    facade.upstream.reset();
    const hidden = await facade.graphql(
      '{ rooms(first: 5) { edges { node { ... on Node { ... on Room { tags { name } } } } } } }',
      { token },
    );
    expect(hidden.data).toEqual({
      rooms: { edges: [{ node: { tags: [{ name: 'm.favourite' }] } }] },
    });
    expect(facade.upstream.requests.filter((call) => !call.endsWith('/whoami'))).toEqual([
      SLIDING_SYNC,
      `GET /_matrix/client/v3/user/${encodeURIComponent(alice.user.userId)}/rooms/${encodeURIComponent(roomId)}/tags`,
    ]);
  });
});

describe("the room list's latest messages", () => {
  /** Alice in a busy room (12 messages) and a quiet one (only its creation events). */
  async function rooms(prefix: string) {
    const upstream = newUpstream();
    const alice = await newUserClient(upstream, prefix);
    const busy = await createRoom(alice.client, { name: 'Busy' });
    const quiet = await createRoom(alice.client, { name: 'Quiet' });
    for (let index = 0; index < 12; index++) {
      await sendMessageEvent(alice.client, busy.roomId, 'm.room.message', `m${index}`, {
        msgtype: 'm.text',
        body: `message ${index}`,
      });
    }
    return { upstream, token: alice.user.accessToken, roomIds: [busy.roomId, quiet.roomId] };
  }

  it('should come with the sliding sync, the same pages /messages gives', async () => {
    const { upstream, token, roomIds } = await rooms('latest-list');
    const [busy, quiet] = roomIds as [string, string];
    await using _upstream = upstream;
    await using facade = facadeWithPlan('sliding-sync');

    const cases: [{ last: number; types: string[] | null }, string[]][] = [
      [{ last: 3, types: null }, [SLIDING_SYNC]],
      // Every event of both rooms: their whole history came with the list.
      [{ last: 50, types: null }, [SLIDING_SYNC]],
      // The busy room's newest 3 events hold 2 messages and more; the quiet room's hold none,
      // and older events exist: only /messages can tell whether any is a message.
      [{ last: 2, types: ['m.room.message'] }, [SLIDING_SYNC, messagesOf(quiet)]],
    ];
    for (const [variables, calls] of cases) {
      facade.upstream.reset();
      const listed = await facade.graphql(RoomsWithLatestEvents, { token, variables });
      expect(listed.errors).toBeUndefined();
      expect(facade.upstream.requests, JSON.stringify(variables)).toEqual(calls);

      // Each room's page is the one `room(id:)` reads with /messages, cursors included.
      for (const roomId of [busy, quiet]) {
        const edge = listed.data?.rooms.edges.find((item) => item.node.id === roomId);
        const alone = await facade.graphql(OneRoomLatestEvents, {
          token,
          variables: { id: roomId, ...variables },
        });
        expect(edge?.node.messages, JSON.stringify(variables)).toEqual(alone.data?.room?.messages);
      }
    }
  });

  it('should leave to /messages the rooms whose listed events do not settle the page', async () => {
    const { upstream, token, roomIds } = await rooms('latest-fallback');
    const [busy, quiet] = roomIds as [string, string];
    await using _upstream = upstream;
    await using facade = facadeWithPlan('sliding-sync');

    // The busy room's newest 11 events are messages, and older ones exist: whether any is a
    // name only /messages can tell. The quiet room's whole history came with the list.
    const named = await facade.graphql(RoomsWithLatestEvents, {
      token,
      variables: { last: 10, types: ['m.room.name'] },
    });
    expect(named.errors).toBeUndefined();
    expect(facade.upstream.requests[0]).toBe(SLIDING_SYNC);
    expect(new Set(facade.upstream.requests.slice(1))).toEqual(new Set([messagesOf(busy)]));
    const pages = [busy, quiet].map(
      (roomId) => named.data?.rooms.edges.find((edge) => edge.node.id === roomId)?.node.messages,
    );
    expect(pages.map((page) => page?.edges.map((edge) => edge.node.type))).toEqual([
      ['m.room.name'],
      ['m.room.name'],
    ]);
  });
});

const NodeTwice = graphql(`
  query NodeTwice($id: ID!) {
    nodes(ids: [$id]) {
      id
    }
    node(id: $id) {
      id
      ... on Room {
        name
      }
    }
  }
`);

describe('user and node', () => {
  it('should leave no rejection unhandled when nodes mixes a refused room and a malformed ID (found by the fuzz run)', async () => {
    await using upstream = newUpstream();
    const [owner, stranger] = await Promise.all([
      newUserClient(upstream, 'nodes-owner'),
      newUserClient(upstream, 'nodes-stranger'),
    ]);
    const { roomId } = await createRoom(owner.client, { preset: 'private_chat' });
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      await using facade = startFacade();
      const result = await facade.graphql(NodeTwice, {
        token: stranger.user.accessToken,
        variables: { id: roomId },
      });
      const mixed = await facade.graphql(
        `query { nodes(ids: ["${roomId}", "!not valid"]) { id } }`,
        { token: stranger.user.accessToken },
      );
      await new Promise((resolve) => setTimeout(resolve, 300));

      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
      expect(mixed.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('should resolve the same room through nodes and node in one request (found by the fuzz run)', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'node-twice');
    const { roomId } = await createRoom(alice.client, { name: 'Twice' });
    await using facade = startFacade();
    const result = await facade.graphql(NodeTwice, {
      token: alice.user.accessToken,
      variables: { id: roomId },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ nodes: [{ id: roomId }], node: { id: roomId, name: 'Twice' } });
  });

  it('should resolve users and rooms by their Matrix IDs', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'node-alice');
    await setDisplayName(alice.client, alice.user.userId, 'Alice A.');
    const { roomId } = await createRoom(alice.client, { name: 'Noded' });
    await using facade = startFacade();
    const result = await facade.graphql(UserAndNode, {
      token: alice.user.accessToken,
      variables: { userId: alice.user.userId, nodeId: roomId },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      user: { id: alice.user.userId, displayName: 'Alice A.' },
      node: { __typename: 'Room', id: roomId, name: 'Noded' },
    });
    const viewer = await facade.graphql(ViewerProfile, { token: alice.user.accessToken });
    expect(viewer.data?.viewer).toEqual({
      userId: alice.user.userId,
      user: { displayName: 'Alice A.' },
    });
  });

  it('should answer null for an unknown user and refuse an ID without a node sigil', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'node-unknown');
    await using facade = startFacade();
    const result = await facade.graphql(UserAndNode, {
      token: alice.user.accessToken,
      variables: {
        userId: `@nobody-${Date.now()}:${homeserver().serverName}`,
        nodeId: alice.user.userId,
      },
    });
    expect(result.data?.user).toBeNull();
    expect(result.data?.node).toMatchObject({ __typename: 'User', id: alice.user.userId });
    const eventNode = await facade.graphql(UserAndNode, {
      token: alice.user.accessToken,
      variables: { userId: alice.user.userId, nodeId: '$some-event' },
    });
    expect(eventNode.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});
