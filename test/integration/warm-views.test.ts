/**
 * Warm room views against the real Synapse: once a token's view is warm, its room list (names,
 * order, unread counts, tags, the newest message) is answered with no upstream call, agrees with
 * the cold plans, follows other users' writes through the stream, reflects the viewer's own writes
 * on the very next read, and is dropped past its memory budget. Upstream calls are counted per
 * operation (its X-Request-Id), since the view's own sync loop goes upstream all the time.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { sendMessageEvent } from '../../src/matrix/room-events.ts';
import { putStateEvent } from '../../src/matrix/room-state.ts';
import { createRoom, inviteUser, joinRoom } from '../../src/matrix/rooms.ts';
import { putRoomTag } from '../../src/matrix/tags.ts';
import { graphql } from '../generated/gql.ts';
import { startFacade, type TestFacade } from '../support/facade.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';
import { startServer, subscribe } from '../support/server.ts';

const WARM = { WARM_VIEW_IDLE_MS: '60000' };

const WarmRoomList = graphql(`
  query WarmRoomList {
    rooms(first: 20) {
      edges {
        node {
          id
          name
          topic
          myMembership
          isDirect
          joinedMemberCount
          members(first: 5) {
            edges {
              node {
                user {
                  id
                }
                membership
                powerLevel
              }
            }
          }
          unreadNotifications {
            notificationCount
            highlightCount
          }
          tags {
            name
            order
          }
          messages(last: 1) {
            edges {
              node {
                id
                ... on MessageEvent {
                  body
                }
              }
            }
          }
        }
      }
    }
  }
`);

const WarmRoomPage = graphql(`
  query WarmRoomPage($id: ID!) {
    room(id: $id) {
      id
      name
      topic
      joinedMemberCount
      members(first: 20) {
        edges {
          node {
            user {
              id
            }
            membership
            powerLevel
          }
        }
      }
      messages(last: 20) {
        pageInfo {
          hasPreviousPage
        }
        edges {
          node {
            id
            type
          }
        }
      }
    }
  }
`);

const LiveRoomList = graphql(`
  subscription LiveRoomList($first: Int!) {
    roomList(first: $first) {
      hasMore
      rooms {
        id
        name
        unreadNotifications {
          notificationCount
        }
      }
    }
  }
`);

const WarmInvites = graphql(`
  query WarmInvites {
    rooms(membership: INVITE, first: 20) {
      edges {
        node {
          id
          name
        }
      }
    }
  }
`);

const WarmSendMessage = graphql(`
  mutation WarmSendMessage($input: SendMessageInput!) {
    sendMessage(input: $input) {
      event {
        id
      }
    }
  }
`);

const WarmRename = graphql(`
  mutation WarmRename($input: SetRoomNameInput!) {
    setRoomName(input: $input) {
      room {
        id
      }
    }
  }
`);

const WarmTag = graphql(`
  mutation WarmTag($input: SetRoomTagInput!) {
    setRoomTag(input: $input) {
      room {
        id
      }
    }
  }
`);

const WarmLeave = graphql(`
  mutation WarmLeave($input: LeaveRoomInput!) {
    leaveRoom(input: $input) {
      room {
        id
      }
    }
  }
`);

type ListAnswer = Awaited<ReturnType<typeof listOnce>>;

/** One room list read, with the upstream calls that read made. */
async function listOnce(facade: TestFacade, token: string) {
  const requestId = randomUUID();
  const answer = await facade.graphql(WarmRoomList, { token, requestId });
  expect(answer.errors).toBeUndefined();
  return {
    rooms: answer.data?.rooms.edges.map((edge) => edge.node) ?? [],
    calls: facade.upstream.requestsOf(requestId),
  };
}

/** Reads until the view answers with no upstream call (it warms after the first read). */
async function untilWarm(facade: TestFacade, token: string): Promise<ListAnswer> {
  let answer = await listOnce(facade, token);
  await vi.waitFor(
    async () => {
      answer = await listOnce(facade, token);
      expect(answer.calls).toEqual([]);
    },
    { timeout: 15_000, interval: 100 },
  );
  return answer;
}

const newest = (room: ListAnswer['rooms'][number]) => {
  const node = room.messages?.edges.at(-1)?.node;
  return node && 'body' in node ? node.body : null;
};

/** A viewer in three rooms with bob: names, a topic, a tag, messages from bob. */
async function scene(prefix: string) {
  const upstream = newUpstream();
  const [viewer, bob] = await Promise.all([
    newUserClient(upstream, `${prefix}-viewer`),
    newUserClient(upstream, `${prefix}-bob`),
  ]);
  const roomIds: string[] = [];
  for (const name of ['Alpha', 'Beta', 'Gamma']) {
    const { roomId } = await createRoom(bob.client, {
      name,
      topic: `${name} topic`,
      preset: 'public_chat',
    });
    await joinRoom(viewer.client, roomId);
    await sendMessageEvent(bob.client, roomId, 'm.room.message', `${name}-1`, {
      msgtype: 'm.text',
      body: `${name} says hi`,
    });
    roomIds.push(roomId);
  }
  await putRoomTag(viewer.client, viewer.user.userId, roomIds[1] as string, 'm.favourite', 0.5);
  return { upstream, viewer, bob, roomIds };
}

describe('warm room views', () => {
  it('should answer the room list with no upstream call once warm, as the cold plans do', async () => {
    const { upstream, viewer, roomIds } = await scene('warm-same');
    await using _upstream = upstream;
    await using warm = startFacade(WARM);
    await using cold = startFacade();

    const first = await listOnce(warm, viewer.user.accessToken);
    expect(first.calls.length).toBeGreaterThan(0);
    const warmAnswer = await untilWarm(warm, viewer.user.accessToken);
    const coldAnswer = await listOnce(cold, viewer.user.accessToken);
    expect(coldAnswer.calls.length).toBeGreaterThan(0);
    // The same rooms in the same order, with the same fields.
    expect(warmAnswer.rooms).toEqual(coldAnswer.rooms);
    expect(warmAnswer.rooms.map((room) => room.name)).toEqual(['Gamma', 'Beta', 'Alpha']);
    const beta = warmAnswer.rooms.find((room) => room.id === roomIds[1]);
    expect(beta).toMatchObject({
      topic: 'Beta topic',
      myMembership: 'JOIN',
      tags: [{ name: 'm.favourite', order: 0.5 }],
      unreadNotifications: { notificationCount: 1, highlightCount: 0 },
    });
    expect(newest(beta as ListAnswer['rooms'][number])).toBe('Beta says hi');
  });

  it('should answer a room page from the view too: state, members and newest events', async () => {
    const { upstream, viewer, roomIds } = await scene('warm-page');
    await using _upstream = upstream;
    await using warm = startFacade(WARM);
    await using cold = startFacade();
    await untilWarm(warm, viewer.user.accessToken);
    const token = viewer.user.accessToken;
    const requestId = randomUUID();
    const warmPage = await warm.graphql(WarmRoomPage, {
      token,
      requestId,
      variables: { id: roomIds[0] as string },
    });
    expect(warm.upstream.requestsOf(requestId)).toEqual([]);
    const coldPage = await cold.graphql(WarmRoomPage, {
      token,
      variables: { id: roomIds[0] as string },
    });
    expect(warmPage.errors).toBeUndefined();
    expect(warmPage.data).toEqual(coldPage.data);
    expect(warmPage.data?.room?.members?.edges).toHaveLength(2);
  });

  it("should follow other users' writes through the stream, at no upstream call", async () => {
    const { upstream, viewer, bob, roomIds } = await scene('warm-follow');
    await using _upstream = upstream;
    await using warm = startFacade(WARM);
    await untilWarm(warm, viewer.user.accessToken);

    await sendMessageEvent(bob.client, roomIds[0] as string, 'm.room.message', 'late', {
      msgtype: 'm.text',
      body: 'Alpha again',
    });
    await putStateEvent(bob.client, roomIds[2] as string, 'm.room.name', '', { name: 'Gamma Two' });
    await vi.waitFor(
      async () => {
        const { rooms, calls } = await listOnce(warm, viewer.user.accessToken);
        expect(calls).toEqual([]);
        // Alpha moves up on a message; a rename changes the name but does not bump.
        expect(rooms.map((room) => room.name)).toEqual(['Alpha', 'Gamma Two', 'Beta']);
        expect(newest(rooms[0] as ListAnswer['rooms'][number])).toBe('Alpha again');
        expect(rooms[0]?.unreadNotifications?.notificationCount).toBe(2);
      },
      { timeout: 10_000, interval: 100 },
    );

    const invite = await createRoom(bob.client, { name: 'Invitation' });
    await inviteUser(bob.client, invite.roomId, viewer.user.userId);
    await vi.waitFor(
      async () => {
        const requestId = randomUUID();
        const answer = await warm.graphql(WarmInvites, {
          token: viewer.user.accessToken,
          requestId,
        });
        expect(warm.upstream.requestsOf(requestId)).toEqual([]);
        expect(answer.data?.rooms.edges.map((edge) => edge.node)).toEqual([
          { id: invite.roomId, name: 'Invitation' },
        ]);
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it("should show the viewer's own writes on the very next read, and never go back in time", async () => {
    const { upstream, viewer, bob, roomIds } = await scene('warm-ryw');
    await using _upstream = upstream;
    await using warm = startFacade(WARM);
    await untilWarm(warm, viewer.user.accessToken);
    const token = viewer.user.accessToken;
    const [alpha, beta] = roomIds as [string, string, string];

    const seen = new Map<string, number>();
    for (let round = 0; round < 8; round++) {
      // Bob writes too, straight to the homeserver, between the viewer's writes and reads.
      await sendMessageEvent(bob.client, beta, 'm.room.message', `bob-${round}`, {
        msgtype: 'm.text',
        body: `bob ${round}`,
      });
      const sent = await warm.graphql(WarmSendMessage, {
        token,
        variables: { input: { roomId: alpha, body: `mine ${round}` } },
      });
      expect(sent.errors).toBeUndefined();
      const { rooms } = await listOnce(warm, token);
      const top = rooms[0] as ListAnswer['rooms'][number];
      expect(top.id).toBe(alpha);
      expect(newest(top)).toBe(`mine ${round}`);
      // Bob's messages only ever move forward, whatever the view has caught up with.
      const bobs = rooms.find((room) => room.id === beta);
      const bobRound = Number(
        (newest(bobs as ListAnswer['rooms'][number]) ?? 'bob -1').split(' ')[1],
      );
      expect(bobRound).toBeGreaterThanOrEqual(seen.get(beta) ?? -1);
      seen.set(beta, bobRound);
    }

    // A room of the viewer's own (bob's rooms give the viewer no power to rename them).
    const own = await createRoom(viewer.client, { name: 'Own' });
    const renamed = await warm.graphql(WarmRename, {
      token,
      variables: { input: { roomId: own.roomId, name: 'Renamed' } },
    });
    expect(renamed.errors).toBeUndefined();
    expect((await listOnce(warm, token)).rooms.find((room) => room.id === own.roomId)?.name).toBe(
      'Renamed',
    );
    // A room first met in the stream has no tags the view knows of until it is tagged.
    await warm.graphql(WarmTag, {
      token,
      variables: { input: { roomId: own.roomId, tag: 'u.work', order: 0.25 } },
    });
    expect(
      (await listOnce(warm, token)).rooms.find((room) => room.id === own.roomId)?.tags,
    ).toEqual([{ name: 'u.work', order: 0.25 }]);
    await warm.graphql(WarmLeave, { token, variables: { input: { roomId: alpha } } });
    const after = await listOnce(warm, token);
    expect(after.rooms.map((room) => room.id)).not.toContain(alpha);
    // Caught up with the stream: still no upstream call for the list.
    expect((await untilWarm(warm, token)).rooms.map((room) => room.id)).not.toContain(alpha);
  });

  it('should drop a view past its memory budget and answer cold', async () => {
    const { upstream, viewer } = await scene('warm-budget');
    await using _upstream = upstream;
    await using small = startFacade({ ...WARM, WARM_VIEW_MAX_BYTES_PER_USER: '1024' });
    await listOnce(small, viewer.user.accessToken);
    await vi.waitFor(
      async () => {
        const text = await small.app.metrics?.render();
        expect(text).toMatch(/matrix_facade_warm_view_evictions_total\{reason="budget"\} [1-9]/);
      },
      { timeout: 10_000, interval: 100 },
    );
    const again = await listOnce(small, viewer.user.accessToken);
    expect(again.calls.length).toBeGreaterThan(0);
    expect(again.rooms).toHaveLength(3);
    // Not warmed again on every read: a new view would take a new snapshot and be dropped again
    // within this second, counting a second eviction.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await listOnce(small, viewer.user.accessToken);
    const text = await small.app.metrics?.render();
    expect(text).toMatch(/matrix_facade_warm_view_evictions_total\{reason="budget"\} 1\n/);
  });

  it('should keep a roomList subscription live: the top rooms pushed whole on each change', async () => {
    const { upstream, viewer, bob, roomIds } = await scene('warm-live');
    await using _upstream = upstream;
    await using server = await startServer({ environment: WARM });
    await using client = server.client(viewer.user.accessToken);
    const [alpha, , gamma] = roomIds as [string, string, string];
    const pages = subscribe(client, LiveRoomList, { first: 2 });
    const names = (count: number) =>
      pages.values.slice(0, count).map((value) => ({
        names: value.data?.roomList.rooms.map((room) => room.name),
        hasMore: value.data?.roomList.hasMore,
      }));

    await pages.next(1);
    expect(names(1)).toEqual([{ names: ['Gamma', 'Beta'], hasMore: true }]);
    await sendMessageEvent(bob.client, alpha, 'm.room.message', 'live-1', {
      msgtype: 'm.text',
      body: 'Alpha moves up',
    });
    await vi.waitFor(() =>
      expect(pages.values.at(-1)?.data?.roomList.rooms.map((room) => room.name)).toEqual([
        'Alpha',
        'Gamma',
      ]),
    );
    const pushes = pages.values.length;
    await putStateEvent(bob.client, gamma, 'm.room.name', '', { name: 'Gamma Live' });
    await vi.waitFor(() =>
      expect(pages.values.at(-1)?.data?.roomList.rooms.map((room) => room.name)).toEqual([
        'Alpha',
        'Gamma Live',
      ]),
    );
    // A change outside the page (Beta renamed, third) pushes nothing; Alpha's next message
    // (its unread count) pushes once, whether the two come in one sync response or two.
    const before = pages.values.length;
    expect(before).toBeGreaterThan(pushes);
    await putStateEvent(bob.client, roomIds[1] as string, 'm.room.name', '', { name: 'Beta Two' });
    await sendMessageEvent(bob.client, alpha, 'm.room.message', 'live-2', {
      msgtype: 'm.text',
      body: 'Alpha again',
    });
    await vi.waitFor(() =>
      expect(
        pages.values.at(-1)?.data?.roomList.rooms[0]?.unreadNotifications?.notificationCount,
      ).toBe(3),
    );
    expect(pages.values).toHaveLength(before + 1);
    expect(pages.values.every((value) => value.errors === undefined)).toBe(true);
  });

  it('should refuse roomList without a warm view, and a page size out of bounds', async () => {
    const { upstream, viewer } = await scene('warm-refuse');
    await using _upstream = upstream;
    await using cold = await startServer();
    await using coldClient = cold.client(viewer.user.accessToken);
    const refused = subscribe(coldClient, LiveRoomList, { first: 2 });
    await refused.done;
    expect(JSON.stringify(refused.errors)).toContain('ROOM_LIST_UNAVAILABLE');

    await using warm = await startServer({ environment: WARM });
    await using warmClient = warm.client(viewer.user.accessToken);
    const tooMany = subscribe(warmClient, LiveRoomList, { first: 101 });
    await tooMany.done;
    expect(JSON.stringify(tooMany.errors)).toContain('BAD_USER_INPUT');
    // Refused before any upstream call but the connection's own whoami.
    expect(warm.upstream.requests.filter((request) => !request.endsWith('/whoami'))).toEqual([]);
  });
});
