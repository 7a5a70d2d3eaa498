import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getPublicRooms, resolveAlias } from '../../src/matrix/directory.ts';
import { MatrixApiError } from '../../src/matrix/errors.ts';
import { getMessages } from '../../src/matrix/room-events.ts';
import { getMembers, getRoomState, getStateEvent } from '../../src/matrix/room-state.ts';
import {
  banUser,
  createRoom,
  forgetRoom,
  getJoinedRooms,
  inviteUser,
  joinRoom,
  kickUser,
  leaveRoom,
  unbanUser,
} from '../../src/matrix/rooms.ts';
import { homeserver, newUpstream, newUserClient } from '../support/homeserver.ts';

/** A room alias localpart no other test (or earlier run against the same server) uses. */
function uniqueAliasName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

describe('matrix/rooms', () => {
  describe('createRoom', () => {
    it('should apply every creation option to the new room', async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'create-alice'),
        newUserClient(upstream, 'create-bob'),
      ]);
      const aliasName = uniqueAliasName('create-all');
      const alias = `#${aliasName}:${homeserver().serverName}`;

      const { roomId } = await createRoom(alice.client, {
        visibility: 'public',
        roomAliasName: aliasName,
        name: 'Every option',
        topic: 'All of create_room.yaml',
        invite: [bob.user.userId],
        roomVersion: '10',
        creationContent: { 'm.federate': false },
        initialState: [
          { type: 'm.room.guest_access', content: { guest_access: 'can_join' } },
          { type: 'org.example.marker', stateKey: 'k', content: { marked: true } },
        ],
        preset: 'public_chat',
        isDirect: true,
        powerLevelContentOverride: { events_default: 50 },
      });

      expect(roomId).toMatch(/^!.+:localhost$/);
      const state = await getRoomState(alice.client, roomId);
      const content = (type: string, stateKey = '') =>
        state.find((event) => event.type === type && event.stateKey === stateKey)?.content;
      expect(content('m.room.create')).toMatchObject({ room_version: '10', 'm.federate': false });
      expect(content('m.room.name')).toEqual({ name: 'Every option' });
      expect(content('m.room.topic')).toMatchObject({ topic: 'All of create_room.yaml' });
      expect(content('m.room.join_rules')).toEqual({ join_rule: 'public' });
      expect(content('m.room.guest_access')).toEqual({ guest_access: 'can_join' });
      expect(content('org.example.marker', 'k')).toEqual({ marked: true });
      expect(content('m.room.canonical_alias')).toMatchObject({ alias });
      expect(content('m.room.power_levels')).toMatchObject({
        events_default: 50,
        users: { [alice.user.userId]: 100 },
      });
      expect(await resolveAlias(alice.client, alias)).toMatchObject({ roomId });

      const invited = await getStateEvent(alice.client, roomId, 'm.room.member', bob.user.userId);
      expect(invited?.content).toMatchObject({ membership: 'invite', is_direct: true });
      expect(invited?.sender).toBe(alice.user.userId);

      const directory = await getPublicRooms(alice.client, { searchTerm: 'Every option' });
      expect(directory.rooms.map((room) => room.roomId)).toContain(roomId);
    });

    it('should keep a room out of the directory and invite-only by default', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'create-default');
      const name = `Unlisted ${randomUUID()}`;

      const { roomId } = await createRoom(client, { name });

      const state = await getRoomState(client, roomId);
      const content = (type: string) => state.find((event) => event.type === type)?.content;
      // Synapse's default room version.
      expect(content('m.room.create')).toEqual({ room_version: '11' });
      expect(content('m.room.join_rules')).toEqual({ join_rule: 'invite' });
      expect(state.some((event) => event.type === 'm.room.canonical_alias')).toBe(false);
      expect((await getPublicRooms(client, { searchTerm: name })).rooms).toEqual([]);
    });

    it('should give invitees the creator power level with the trusted_private_chat preset', async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'trusted-alice'),
        newUserClient(upstream, 'trusted-bob'),
      ]);

      const { roomId } = await createRoom(alice.client, {
        preset: 'trusted_private_chat',
        invite: [bob.user.userId],
      });

      const powerLevels = await getStateEvent(alice.client, roomId, 'm.room.power_levels');
      expect(powerLevels?.content).toMatchObject({
        users: { [alice.user.userId]: 100, [bob.user.userId]: 100 },
      });
      expect((await getStateEvent(alice.client, roomId, 'm.room.join_rules'))?.content).toEqual({
        join_rule: 'invite',
      });
    });

    it('should refuse an alias that is already taken with 400 M_ROOM_IN_USE', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'alias-taken');
      const aliasName = uniqueAliasName('taken');
      const first = await createRoom(client, { roomAliasName: aliasName });

      const call = createRoom(client, { roomAliasName: aliasName });

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 400, errcode: 'M_ROOM_IN_USE' });
      const alias = `#${aliasName}:${homeserver().serverName}`;
      expect(await resolveAlias(client, alias)).toMatchObject({ roomId: first.roomId });
      // The failed attempt left no second room behind.
      expect(await getJoinedRooms(client)).toEqual([first.roomId]);
    });
  });

  describe('getJoinedRooms', () => {
    it('should list exactly the rooms the caller is joined to', async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'joined-alice'),
        newUserClient(upstream, 'joined-bob'),
      ]);
      expect(await getJoinedRooms(bob.client)).toEqual([]);

      const first = await createRoom(alice.client, { preset: 'public_chat' });
      const second = await createRoom(alice.client, { invite: [bob.user.userId] });

      expect((await getJoinedRooms(alice.client)).sort()).toEqual(
        [first.roomId, second.roomId].sort(),
      );
      // An invite is not a join.
      expect(await getJoinedRooms(bob.client)).toEqual([]);
      await joinRoom(bob.client, first.roomId);
      expect(await getJoinedRooms(bob.client)).toEqual([first.roomId]);
    });
  });

  describe('joinRoom', () => {
    it('should join a public room by its alias and by its ID', async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'join-alice'),
        newUserClient(upstream, 'join-bob'),
      ]);
      const aliasName = uniqueAliasName('join');
      const { roomId } = await createRoom(alice.client, {
        preset: 'public_chat',
        roomAliasName: aliasName,
      });

      const byAlias = await joinRoom(bob.client, `#${aliasName}:${homeserver().serverName}`);
      expect(byAlias).toEqual({ roomId });
      expect(await getJoinedRooms(bob.client)).toEqual([roomId]);

      await leaveRoom(bob.client, roomId);
      expect(await getJoinedRooms(bob.client)).toEqual([]);

      const byId = await joinRoom(bob.client, roomId, { reason: 'back again' });
      expect(byId).toEqual({ roomId });
      const member = await getStateEvent(alice.client, roomId, 'm.room.member', bob.user.userId);
      expect(member?.content).toMatchObject({ membership: 'join', reason: 'back again' });
    });

    it('should refuse an invite-only room one is not invited to with 403 M_FORBIDDEN', async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'closed-alice'),
        newUserClient(upstream, 'closed-bob'),
      ]);
      const { roomId } = await createRoom(alice.client, { preset: 'private_chat' });

      const call = joinRoom(bob.client, roomId);

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 403, errcode: 'M_FORBIDDEN' });
    });

    it('should report an unknown alias with 404 M_NOT_FOUND', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'join-unknown');

      const call = joinRoom(client, `#${uniqueAliasName('nowhere')}:${homeserver().serverName}`);

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 404, errcode: 'M_NOT_FOUND' });
    });

    it('should reject a malformed room ID', async () => {
      await using upstream = newUpstream();
      const { user, client } = await newUserClient(upstream, 'malformed');

      // Synapse answers each endpoint differently for an ID that is neither `!…` nor `#…`.
      const join = joinRoom(client, 'not-a-room-id');
      await expect(join).rejects.toBeInstanceOf(MatrixApiError);
      await expect(join).rejects.toMatchObject({ status: 400, errcode: 'M_UNKNOWN' });
      await expect(inviteUser(client, 'not-a-room-id', user.userId)).rejects.toMatchObject({
        status: 403,
        errcode: 'M_FORBIDDEN',
      });
      await expect(leaveRoom(client, 'not-a-room-id')).rejects.toMatchObject({
        status: 404,
        errcode: 'M_UNKNOWN',
      });
    });
  });

  describe('membership', () => {
    it('should invite a user who can then join an invite-only room', async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'invite-alice'),
        newUserClient(upstream, 'invite-bob'),
      ]);
      const { roomId } = await createRoom(alice.client, { preset: 'private_chat' });

      await inviteUser(alice.client, roomId, bob.user.userId, { reason: 'come along' });

      const invite = await getStateEvent(alice.client, roomId, 'm.room.member', bob.user.userId);
      expect(invite?.content).toMatchObject({ membership: 'invite', reason: 'come along' });
      expect(invite?.sender).toBe(alice.user.userId);
      await joinRoom(bob.client, roomId);
      const joined = await getMembers(alice.client, roomId, { membership: 'join' });
      expect(joined.map((event) => event.stateKey).sort()).toEqual(
        [alice.user.userId, bob.user.userId].sort(),
      );
    });

    it('should kick with a reason, ban, refuse the banned user, and unban', async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'mod-alice'),
        newUserClient(upstream, 'mod-bob'),
      ]);
      const { roomId } = await createRoom(alice.client, { preset: 'public_chat' });
      await joinRoom(bob.client, roomId);
      const bobsMembership = async () =>
        getStateEvent(alice.client, roomId, 'm.room.member', bob.user.userId);

      await kickUser(alice.client, roomId, bob.user.userId, { reason: 'too loud' });
      const kicked = await bobsMembership();
      expect(kicked?.content).toMatchObject({ membership: 'leave', reason: 'too loud' });
      expect(kicked?.sender).toBe(alice.user.userId);
      expect(await getJoinedRooms(bob.client)).toEqual([]);

      // A kick is not a ban: the room is public, so Bob may come back.
      await joinRoom(bob.client, roomId);
      await banUser(alice.client, roomId, bob.user.userId, { reason: 'still too loud' });
      expect((await bobsMembership())?.content).toMatchObject({
        membership: 'ban',
        reason: 'still too loud',
      });

      // Synapse answers M_BAD_STATE here, not M_FORBIDDEN.
      const rejoin = joinRoom(bob.client, roomId);
      await expect(rejoin).rejects.toBeInstanceOf(MatrixApiError);
      await expect(rejoin).rejects.toMatchObject({ status: 403, errcode: 'M_BAD_STATE' });

      await unbanUser(alice.client, roomId, bob.user.userId);
      expect((await bobsMembership())?.content).toMatchObject({ membership: 'leave' });
      expect(await joinRoom(bob.client, roomId)).toEqual({ roomId });
    });

    it('should refuse a kick from a member without the power level with 403 M_FORBIDDEN', async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'powerless-alice'),
        newUserClient(upstream, 'powerless-bob'),
      ]);
      const { roomId } = await createRoom(alice.client, { preset: 'public_chat' });
      await joinRoom(bob.client, roomId);

      const call = kickUser(bob.client, roomId, alice.user.userId, { reason: 'coup' });

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 403, errcode: 'M_FORBIDDEN' });
      expect(
        (await getStateEvent(bob.client, roomId, 'm.room.member', alice.user.userId))?.content,
      ).toMatchObject({ membership: 'join' });
    });
  });

  describe('leaveRoom and forgetRoom', () => {
    it('should keep the history readable after leaving and hide it after forgetting', async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'forget-alice'),
        newUserClient(upstream, 'forget-bob'),
      ]);
      const { roomId } = await createRoom(alice.client, { preset: 'public_chat', name: 'Gone' });
      await joinRoom(bob.client, roomId);

      // Forgetting needs the room left first.
      const early = forgetRoom(bob.client, roomId);
      await expect(early).rejects.toBeInstanceOf(MatrixApiError);
      await expect(early).rejects.toMatchObject({ status: 400, errcode: 'M_UNKNOWN' });

      await leaveRoom(bob.client, roomId, { reason: 'bye' });
      expect(await getJoinedRooms(bob.client)).toEqual([]);
      expect(
        (await getStateEvent(alice.client, roomId, 'm.room.member', bob.user.userId))?.content,
      ).toMatchObject({ membership: 'leave', reason: 'bye' });
      const lastSeen = await getMessages(bob.client, roomId, { dir: 'b', limit: 1 });
      expect(lastSeen.chunk[0]).toMatchObject({ type: 'm.room.member', sender: bob.user.userId });

      await forgetRoom(bob.client, roomId);

      const after = getMessages(bob.client, roomId, { dir: 'b', limit: 1 });
      await expect(after).rejects.toBeInstanceOf(MatrixApiError);
      await expect(after).rejects.toMatchObject({ status: 403, errcode: 'M_FORBIDDEN' });
      await expect(getRoomState(bob.client, roomId)).rejects.toMatchObject({
        status: 403,
        errcode: 'M_FORBIDDEN',
      });
    });
  });
});
