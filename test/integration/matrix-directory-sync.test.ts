import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getPublicRooms, resolveAlias } from '../../src/matrix/directory.ts';
import { MatrixApiError } from '../../src/matrix/errors.ts';
import { getMessages, sendMessageEvent } from '../../src/matrix/room-events.ts';
import { createRoom, inviteUser, joinRoom } from '../../src/matrix/rooms.ts';
import { sync, toWireSyncFilter } from '../../src/matrix/sync.ts';
import { homeserver, newUpstream, newUserClient } from '../support/homeserver.ts';

function text(body: string): { msgtype: string; body: string } {
  return { msgtype: 'm.text', body };
}

describe('matrix/directory', () => {
  describe('resolveAlias', () => {
    it('should resolve an alias to its room and a server to join through', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'alias');
      const aliasName = `alias-${randomUUID().slice(0, 8)}`;
      const { roomId } = await createRoom(client, { roomAliasName: aliasName });

      const resolved = await resolveAlias(client, `#${aliasName}:${homeserver().serverName}`);

      expect(resolved).toEqual({ roomId, servers: [homeserver().serverName] });
    });

    it('should report an unknown alias with 404 M_NOT_FOUND', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'alias-unknown');

      const call = resolveAlias(client, `#nothing-${randomUUID()}:${homeserver().serverName}`);

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 404, errcode: 'M_NOT_FOUND' });
    });
  });

  describe('getPublicRooms', () => {
    it('should list published rooms, page through them and filter by a search term', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'directory');
      const tag = randomUUID().slice(0, 8);
      const lobby = await createRoom(client, {
        visibility: 'public',
        preset: 'public_chat',
        name: `Lobby ${tag}`,
        topic: 'Say hello',
      });
      const garden = await createRoom(client, {
        visibility: 'public',
        preset: 'public_chat',
        name: `Garden ${tag}`,
      });
      const unlisted = await createRoom(client, { preset: 'public_chat', name: `Cellar ${tag}` });

      const all = await getPublicRooms(client);
      const listed = all.rooms.map((room) => room.roomId);
      expect(listed).toEqual(expect.arrayContaining([lobby.roomId, garden.roomId]));
      expect(listed).not.toContain(unlisted.roomId);
      expect(all.rooms.find((room) => room.roomId === lobby.roomId)).toEqual({
        roomId: lobby.roomId,
        name: `Lobby ${tag}`,
        topic: 'Say hello',
        canonicalAlias: null,
        avatarUrl: null,
        joinRule: 'public',
        roomType: null,
        numJoinedMembers: 1,
        worldReadable: false,
        guestCanJoin: false,
      });

      const firstPage = await getPublicRooms(client, { limit: 1 });
      expect(firstPage.rooms).toHaveLength(1);
      expect(firstPage.nextBatch).not.toBeNull();
      const secondPage = await getPublicRooms(client, {
        limit: 1,
        since: firstPage.nextBatch ?? '',
      });
      expect(secondPage.rooms).toHaveLength(1);
      expect(secondPage.rooms[0]?.roomId).not.toBe(firstPage.rooms[0]?.roomId);
      expect(secondPage.prevBatch).not.toBeNull();

      const search = await getPublicRooms(client, { searchTerm: `Garden ${tag}` });
      expect(search.rooms.map((room) => room.roomId)).toEqual([garden.roomId]);
    });
  });
});

describe('matrix/sync', () => {
  it('should show a joined room with its timeline in an initial sync', async () => {
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'sync-initial');
    const { roomId } = await createRoom(client, { name: 'Synced' });
    const { eventId } = await sendMessageEvent(
      client,
      roomId,
      'm.room.message',
      randomUUID(),
      text('hi'),
    );

    const response = await sync(client, { timeoutMs: 0 });

    expect(response.nextBatch).toEqual(expect.any(String));
    expect([...response.join.keys()]).toEqual([roomId]);
    const room = response.join.get(roomId);
    const last = room?.timeline.events.at(-1);
    // /sync leaves `room_id` out; the conversion fills it in from the room the event is under.
    expect(last).toMatchObject({ eventId, roomId, sender: user.userId, content: text('hi') });
    expect(room?.timeline.events.map((event) => event.type)).toContain('m.room.name');
    // Synapse sends the room summary only to clients that lazy-load members.
    expect(room?.summary.joinedMemberCount).toBeNull();
    const lazy = await sync(client, { filter: { room: { state: { lazyLoadMembers: true } } } });
    expect(lazy.join.get(roomId)?.summary).toMatchObject({
      joinedMemberCount: 1,
      invitedMemberCount: 0,
    });
  });

  it("should deliver another user's new message in an incremental sync", async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'sync-alice'),
      newUserClient(upstream, 'sync-bob'),
    ]);
    const { roomId } = await createRoom(alice.client, { preset: 'public_chat' });
    await joinRoom(bob.client, roomId);
    const initial = await sync(alice.client, { timeoutMs: 0 });

    // Long-poll: the message arrives while the request is held open.
    const next = sync(alice.client, { since: initial.nextBatch, timeoutMs: 10_000 });
    const { eventId } = await sendMessageEvent(
      bob.client,
      roomId,
      'm.room.message',
      randomUUID(),
      text('news'),
    );
    const incremental = await next;

    const events = incremental.join.get(roomId)?.timeline.events ?? [];
    expect(events.map((event) => event.eventId)).toEqual([eventId]);
    expect(events[0]).toMatchObject({ roomId, sender: bob.user.userId, content: text('news') });
    expect(incremental.nextBatch).not.toBe(initial.nextBatch);

    // Nothing new since: no rooms at all.
    const idle = await sync(alice.client, { since: incremental.nextBatch, timeoutMs: 0 });
    expect(idle.join.size).toBe(0);
  });

  it('should list an invite with its stripped state under invite', async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'invite-alice'),
      newUserClient(upstream, 'invite-bob'),
    ]);
    const { roomId } = await createRoom(alice.client, { name: 'Invitation only' });
    await inviteUser(alice.client, roomId, bob.user.userId);

    const response = await sync(bob.client, { timeoutMs: 0 });

    expect(response.join.has(roomId)).toBe(false);
    const inviteState = response.invite.get(roomId)?.inviteState ?? [];
    expect(inviteState).toEqual(
      expect.arrayContaining([
        {
          type: 'm.room.name',
          stateKey: '',
          sender: alice.user.userId,
          content: { name: 'Invitation only' },
        },
        expect.objectContaining({
          type: 'm.room.member',
          stateKey: bob.user.userId,
          sender: alice.user.userId,
          content: expect.objectContaining({ membership: 'invite' }),
        }),
      ]),
    );
  });

  it('should cut the timeline to the filter limit and give a token for the rest', async () => {
    await using upstream = newUpstream();
    const { client } = await newUserClient(upstream, 'sync-filter');
    const { roomId } = await createRoom(client, {});
    for (const body of ['t1', 't2', 't3']) {
      await sendMessageEvent(client, roomId, 'm.room.message', randomUUID(), text(body));
    }
    const filter = { room: { timeline: { limit: 1 } } };
    expect(toWireSyncFilter(filter)).toEqual({ room: { timeline: { limit: 1 } } });

    const response = await sync(client, { filter, timeoutMs: 0 });

    const timeline = response.join.get(roomId)?.timeline;
    expect(timeline?.events.map((event) => event.content)).toEqual([text('t3')]);
    expect(timeline?.limited).toBe(true);
    expect(timeline?.prevBatch).toEqual(expect.any(String));
    const before = await getMessages(client, roomId, {
      dir: 'b',
      from: timeline?.prevBatch ?? '',
      limit: 2,
    });
    expect(before.chunk.map((event) => event.content)).toEqual([text('t2'), text('t1')]);
  });

  it('should reject a garbage since token with 400 M_UNKNOWN', async () => {
    await using upstream = newUpstream();
    const { client } = await newUserClient(upstream, 'sync-garbage');

    const call = sync(client, { since: 'garbage', timeoutMs: 0 });

    await expect(call).rejects.toBeInstanceOf(MatrixApiError);
    await expect(call).rejects.toMatchObject({ status: 400, errcode: 'M_UNKNOWN' });
  });
});
