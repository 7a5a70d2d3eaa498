import { describe, expect, it } from 'vitest';
import { setDisplayName } from '../../src/matrix/account.ts';
import { MatrixApiError } from '../../src/matrix/errors.ts';
import {
  getJoinedMembers,
  getMembers,
  getRoomState,
  getStateEvent,
  putStateEvent,
} from '../../src/matrix/room-state.ts';
import { banUser, createRoom, inviteUser, joinRoom, leaveRoom } from '../../src/matrix/rooms.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';

describe('matrix/room-state', () => {
  describe('getRoomState', () => {
    it('should list every current state event of the room', async () => {
      await using upstream = newUpstream();
      const { user, client } = await newUserClient(upstream, 'state-all');
      const { roomId } = await createRoom(client, { name: 'Stateful', topic: 'Everything' });

      const state = await getRoomState(client, roomId);

      const keys = state.map((event) => `${event.type}|${event.stateKey}`).sort();
      expect(keys).toEqual(
        [
          'm.room.create|',
          `m.room.member|${user.userId}`,
          'm.room.power_levels|',
          'm.room.join_rules|',
          'm.room.history_visibility|',
          'm.room.guest_access|',
          'm.room.name|',
          'm.room.topic|',
        ].sort(),
      );
      for (const event of state) {
        expect(event).toMatchObject({ roomId, sender: user.userId });
        expect(event.eventId).toMatch(/^\$/);
      }
      expect(state.find((event) => event.type === 'm.room.name')?.content).toEqual({
        name: 'Stateful',
      });
    });
  });

  describe('getStateEvent', () => {
    it('should return one whole state event, with an empty state key by default', async () => {
      await using upstream = newUpstream();
      const { user, client } = await newUserClient(upstream, 'state-one');
      const before = Date.now();
      const { roomId } = await createRoom(client, { name: 'Named' });

      const name = await getStateEvent(client, roomId, 'm.room.name');

      expect(name).toMatchObject({
        roomId,
        type: 'm.room.name',
        stateKey: '',
        sender: user.userId,
        content: { name: 'Named' },
        redacts: null,
      });
      expect(name?.eventId).toMatch(/^\$/);
      // Generous bounds: the homeserver's clock is this machine's.
      expect(name?.originServerTs).toBeGreaterThanOrEqual(before - 5000);
      expect(name?.originServerTs).toBeLessThanOrEqual(Date.now() + 5000);

      const member = await getStateEvent(client, roomId, 'm.room.member', user.userId);
      expect(member).toMatchObject({
        stateKey: user.userId,
        content: { membership: 'join', displayname: user.localpart },
      });
    });

    it('should return null for state the room does not have', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'state-missing');
      const { roomId } = await createRoom(client, {});

      expect(await getStateEvent(client, roomId, 'm.room.topic')).toBeNull();
      expect(await getStateEvent(client, roomId, 'm.room.member', '@nobody:localhost')).toBeNull();
    });
  });

  describe('putStateEvent', () => {
    it('should set name, topic and custom state that read back as sent', async () => {
      await using upstream = newUpstream();
      const { user, client } = await newUserClient(upstream, 'state-put');
      const { roomId } = await createRoom(client, { name: 'Old name' });

      const nameChange = await putStateEvent(client, roomId, 'm.room.name', '', { name: 'New' });
      await putStateEvent(client, roomId, 'm.room.topic', '', { topic: 'Fresh topic' });
      await putStateEvent(client, roomId, 'org.example.setting', 'colour', { value: 'teal' });

      const name = await getStateEvent(client, roomId, 'm.room.name');
      expect(name).toMatchObject({ eventId: nameChange.eventId, content: { name: 'New' } });
      expect(name?.sender).toBe(user.userId);
      expect((await getStateEvent(client, roomId, 'm.room.topic'))?.content).toMatchObject({
        topic: 'Fresh topic',
      });
      expect(
        (await getStateEvent(client, roomId, 'org.example.setting', 'colour'))?.content,
      ).toEqual({ value: 'teal' });
      // The state key is part of the identity: the empty key holds nothing.
      expect(await getStateEvent(client, roomId, 'org.example.setting')).toBeNull();
    });

    it('should refuse state from a member below the required level with 403 M_FORBIDDEN', async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'state-owner'),
        newUserClient(upstream, 'state-guest'),
      ]);
      const { roomId } = await createRoom(alice.client, { preset: 'public_chat', name: 'Kept' });
      await joinRoom(bob.client, roomId);

      const call = putStateEvent(bob.client, roomId, 'm.room.name', '', { name: 'Taken' });

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 403, errcode: 'M_FORBIDDEN' });
      expect((await getStateEvent(bob.client, roomId, 'm.room.name'))?.content).toEqual({
        name: 'Kept',
      });
    });
  });

  describe('getMembers', () => {
    it('should filter the member list by membership and by excluded membership', async () => {
      await using upstream = newUpstream();
      const [alice, leaver, invitee, banned] = await Promise.all([
        newUserClient(upstream, 'members-alice'),
        newUserClient(upstream, 'members-leaver'),
        newUserClient(upstream, 'members-invitee'),
        newUserClient(upstream, 'members-banned'),
      ]);
      const { roomId } = await createRoom(alice.client, { preset: 'public_chat' });
      await joinRoom(leaver.client, roomId);
      await leaveRoom(leaver.client, roomId);
      await inviteUser(alice.client, roomId, invitee.user.userId);
      await joinRoom(banned.client, roomId);
      await banUser(alice.client, roomId, banned.user.userId);
      const userIds = async (options: Parameters<typeof getMembers>[2]) =>
        (await getMembers(alice.client, roomId, options)).map((event) => event.stateKey).sort();

      expect(await userIds({})).toEqual(
        [alice, leaver, invitee, banned].map((member) => member.user.userId).sort(),
      );
      expect(await userIds({ membership: 'join' })).toEqual([alice.user.userId]);
      expect(await userIds({ membership: 'invite' })).toEqual([invitee.user.userId]);
      expect(await userIds({ membership: 'leave' })).toEqual([leaver.user.userId]);
      expect(await userIds({ membership: 'ban' })).toEqual([banned.user.userId]);
      expect(await userIds({ notMembership: 'join' })).toEqual(
        [leaver, invitee, banned].map((member) => member.user.userId).sort(),
      );
      const members = await getMembers(alice.client, roomId, { membership: 'ban' });
      expect(members[0]).toMatchObject({
        type: 'm.room.member',
        roomId,
        sender: alice.user.userId,
        content: { membership: 'ban' },
      });
    });
  });

  describe('getJoinedMembers', () => {
    it('should map each joined member to their display name', async () => {
      await using upstream = newUpstream();
      const [alice, bob, carol] = await Promise.all([
        newUserClient(upstream, 'joined-alice'),
        newUserClient(upstream, 'joined-bob'),
        newUserClient(upstream, 'joined-carol'),
      ]);
      await setDisplayName(bob.client, bob.user.userId, 'Bob the Builder');
      const { roomId } = await createRoom(alice.client, {
        preset: 'public_chat',
        invite: [carol.user.userId],
      });
      await joinRoom(bob.client, roomId);

      const joined = await getJoinedMembers(bob.client, roomId);

      // Carol is only invited, so she is not listed.
      expect(joined).toEqual(
        new Map([
          [alice.user.userId, { displayName: alice.user.localpart, avatarUrl: null }],
          [bob.user.userId, { displayName: 'Bob the Builder', avatarUrl: null }],
        ]),
      );
    });

    it('should refuse a member who left with 403 M_FORBIDDEN while /members still answers', async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'left-alice'),
        newUserClient(upstream, 'left-bob'),
      ]);
      const { roomId } = await createRoom(alice.client, { preset: 'public_chat' });
      await joinRoom(bob.client, roomId);
      await leaveRoom(bob.client, roomId);

      const call = getJoinedMembers(bob.client, roomId);

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 403, errcode: 'M_FORBIDDEN' });
      // The member list as it was when Bob left.
      const members = await getMembers(bob.client, roomId);
      expect(members.map((event) => [event.stateKey, event.content['membership']]).sort()).toEqual(
        [
          [alice.user.userId, 'join'],
          [bob.user.userId, 'leave'],
        ].sort(),
      );
    });
  });
});
