import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getAccountData, getProfile } from '../../src/matrix/account.ts';
import { getMembers, getRoomState, getStateEvent } from '../../src/matrix/room-state.ts';
import { createRoom, joinRoom, leaveRoom } from '../../src/matrix/rooms.ts';
import { graphql } from '../generated/gql.ts';
import { startFacade } from '../support/facade.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { homeserver, newUpstream, newUserClient } from '../support/homeserver.ts';

const CreateRoom = graphql(`
  mutation CreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      clientMutationId
      room {
        id
        name
        topic
        canonicalAlias
        joinRule
        version
        members {
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
      }
    }
  }
`);

const SetRoomName = graphql(`
  mutation SetRoomName($input: SetRoomNameInput!) {
    setRoomName(input: $input) {
      eventId
      room {
        id
        name
      }
    }
  }
`);

const SetRoomNameTwice = graphql(`
  mutation SetRoomNameTwice($a: SetRoomNameInput!, $b: SetRoomNameInput!) {
    a: setRoomName(input: $a) {
      room {
        id
        name
      }
    }
    b: setRoomName(input: $b) {
      room {
        id
        name
      }
    }
  }
`);

const RoomSettings = graphql(`
  mutation RoomSettings(
    $name: SetRoomNameInput!
    $topic: SetRoomTopicInput!
    $avatar: SetRoomAvatarInput!
    $displayName: SetRoomDisplayNameInput!
    $level: SetRoomPowerLevelInput!
  ) {
    setRoomName(input: $name) {
      eventId
    }
    setRoomTopic(input: $topic) {
      eventId
    }
    setRoomAvatar(input: $avatar) {
      eventId
    }
    setRoomDisplayName(input: $displayName) {
      eventId
    }
    setRoomPowerLevel(input: $level) {
      eventId
      room {
        name
        topic
        avatarUrl
        powerLevels {
          users {
            user {
              id
            }
            level
          }
          kick
        }
        members(membership: JOIN) {
          edges {
            node {
              user {
                id
              }
              displayName
            }
          }
        }
      }
    }
  }
`);

const SetRoomAvatar = graphql(`
  mutation SetRoomAvatar($input: SetRoomAvatarInput!) {
    setRoomAvatar(input: $input) {
      eventId
    }
  }
`);

const SetRoomPowerLevel = graphql(`
  mutation SetRoomPowerLevel($input: SetRoomPowerLevelInput!) {
    setRoomPowerLevel(input: $input) {
      eventId
    }
  }
`);

const JoinRoom = graphql(`
  mutation JoinRoom($input: JoinRoomInput!) {
    joinRoom(input: $input) {
      room {
        id
        myMembership
      }
    }
  }
`);

const LeaveRoom = graphql(`
  mutation LeaveRoom($input: LeaveRoomInput!) {
    leaveRoom(input: $input) {
      room {
        id
        myMembership
      }
    }
  }
`);

const ForgetRoom = graphql(`
  mutation ForgetRoom($input: ForgetRoomInput!) {
    forgetRoom(input: $input) {
      roomId
    }
  }
`);

const InviteToRoom = graphql(`
  mutation InviteToRoom($input: InviteToRoomInput!) {
    inviteToRoom(input: $input) {
      room {
        invitedMemberCount
      }
    }
  }
`);

const RevokeRoomInvite = graphql(`
  mutation RevokeRoomInvite($input: RevokeRoomInviteInput!) {
    revokeRoomInvite(input: $input) {
      room {
        invitedMemberCount
      }
    }
  }
`);

const KickFromRoom = graphql(`
  mutation KickFromRoom($input: KickFromRoomInput!) {
    kickFromRoom(input: $input) {
      room {
        members(membership: LEAVE) {
          edges {
            node {
              user {
                id
              }
              membership
              reason
            }
          }
        }
      }
    }
  }
`);

const BanFromRoom = graphql(`
  mutation BanFromRoom($input: BanFromRoomInput!) {
    banFromRoom(input: $input) {
      room {
        members(membership: BAN) {
          edges {
            node {
              user {
                id
              }
              reason
            }
          }
        }
      }
    }
  }
`);

const UnbanFromRoom = graphql(`
  mutation UnbanFromRoom($input: UnbanFromRoomInput!) {
    unbanFromRoom(input: $input) {
      room {
        members(membership: BAN) {
          edges {
            node {
              user {
                id
              }
            }
          }
        }
      }
    }
  }
`);

const CreateDirectRoom = graphql(`
  mutation CreateDirectRoom($input: CreateDirectRoomInput!) {
    createDirectRoom(input: $input) {
      created
      room {
        id
        isDirect
        members {
          edges {
            node {
              user {
                id
              }
              membership
            }
          }
        }
      }
    }
  }
`);

const RoomSnapshot = graphql(`
  query RoomSnapshot($id: ID!) {
    room(id: $id) {
      name
      joinRule
      powerLevels {
        users {
          user {
            id
          }
          level
        }
      }
      members {
        edges {
          node {
            user {
              id
            }
            membership
            reason
          }
        }
      }
    }
  }
`);

const DirectRoomOf = graphql(`
  query DirectRoomOf($userId: ID!) {
    directRoom(userId: $userId) {
      id
    }
  }
`);

describe('createRoom', () => {
  it('should create with every option and show them in the payload and on Synapse', async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'create-alice'),
      newUserClient(upstream, 'create-bob'),
    ]);
    const aliasName = `made-${randomBytes(4).toString('hex')}`;
    await using facade = startFacade();
    const result = await facade.graphql(CreateRoom, {
      token: alice.user.accessToken,
      variables: {
        input: {
          clientMutationId: 'create-1',
          name: 'Made by GraphQL',
          topic: 'With every option',
          preset: 'PUBLIC_CHAT',
          visibility: 'PUBLIC',
          roomAliasName: aliasName,
          invite: [bob.user.userId],
          isDirect: false,
          roomVersion: '10',
          creationContent: { 'm.federate': false },
          initialState: [{ type: 'org.example.flag', stateKey: 'k', content: { on: true } }],
          powerLevelContentOverride: { kick: 75 },
        },
      },
    });
    expect(result.errors).toBeUndefined();
    const room = result.data?.createRoom?.room;
    expect(result.data?.createRoom?.clientMutationId).toBe('create-1');
    expect(room).toMatchObject({
      name: 'Made by GraphQL',
      topic: 'With every option',
      canonicalAlias: `#${aliasName}:${homeserver().serverName}`,
      joinRule: 'PUBLIC',
      version: '10',
    });
    expect(room?.members?.edges.map((edge) => edge.node)).toEqual([
      { user: { id: alice.user.userId }, membership: 'JOIN', powerLevel: 100 },
      { user: { id: bob.user.userId }, membership: 'INVITE', powerLevel: 0 },
    ]);

    const state = await getRoomState(alice.client, room?.id ?? '');
    const content = (type: string, key = '') =>
      state.find((event) => event.type === type && event.stateKey === key)?.content;
    expect(content('m.room.create')).toMatchObject({ room_version: '10', 'm.federate': false });
    expect(content('org.example.flag', 'k')).toEqual({ on: true });
    expect(content('m.room.power_levels')).toMatchObject({ kick: 75 });
  });

  it('should refuse bad input with BAD_USER_INPUT naming the field, before any upstream call', async () => {
    await using facade = startFacade();
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'x'.repeat(256) }, 'name'],
      [{ roomAliasName: 'has:colon' }, 'roomAliasName'],
      [{ roomAliasName: 'has space' }, 'roomAliasName'],
      [{ invite: ['@ok:hs', 'not-a-user'] }, 'invite[1]'],
    ];
    for (const [input, field] of cases) {
      const result = await facade.graphql(CreateRoom, { token: 'any', variables: { input } });
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    expect(facade.upstream.count()).toBe(0);
  });

  it('should surface a taken alias as M_ROOM_IN_USE', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'alias-taker');
    const aliasName = `taken-${randomBytes(4).toString('hex')}`;
    await createRoom(alice.client, { roomAliasName: aliasName });
    await using facade = startFacade();
    const result = await facade.graphql(CreateRoom, {
      token: alice.user.accessToken,
      variables: { input: { roomAliasName: aliasName } },
    });
    expect(result.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT', matrix: { errcode: 'M_ROOM_IN_USE', status: 400 } },
    });
  });
});

describe('room state mutations', () => {
  it('should show a rename in the payload and in the next query (read-your-writes)', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'rename');
    const { roomId } = await createRoom(alice.client, { name: 'Before' });
    await using facade = startFacade();
    const token = alice.user.accessToken;
    const renamed = await facade.graphql(SetRoomName, {
      token,
      variables: { input: { roomId, name: 'After' } },
    });
    expect(renamed.data?.setRoomName?.room).toEqual({ id: roomId, name: 'After' });
    expect(renamed.data?.setRoomName?.eventId).toMatch(/^\$/);
    const read = await facade.graphql(RoomSnapshot, { token, variables: { id: roomId } });
    expect(read.data?.room?.name).toBe('After');

    // Two writes in one request: each payload reads the room after its own write.
    const twice = await facade.graphql(SetRoomNameTwice, {
      token,
      variables: { a: { roomId, name: 'One' }, b: { roomId, name: 'Two' } },
    });
    expect(twice.data).toEqual({
      a: { room: { id: roomId, name: 'One' } },
      b: { room: { id: roomId, name: 'Two' } },
    });
  });

  it('should set name, topic, avatar, display name and a level, keeping the other levels', async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'settings-alice'),
      newUserClient(upstream, 'settings-bob'),
    ]);
    const { roomId } = await createRoom(alice.client, { preset: 'public_chat' });
    await joinRoom(bob.client, roomId);
    await using facade = startFacade();
    const result = await facade.graphql(RoomSettings, {
      token: alice.user.accessToken,
      variables: {
        name: { roomId, name: '  Settings  ' },
        topic: { roomId, topic: 'New topic' },
        avatar: { roomId, url: 'mxc://localhost/avatar123' },
        displayName: { roomId, displayName: 'Captain' },
        level: { roomId, userId: bob.user.userId, level: 42 },
      },
    });
    expect(result.errors).toBeUndefined();
    const room = result.data?.setRoomPowerLevel?.room;
    expect(room?.name).toBe('Settings');
    expect(room?.topic).toBe('New topic');
    expect(room?.avatarUrl).toBe('mxc://localhost/avatar123');
    expect(room?.powerLevels.users).toEqual([
      { user: { id: alice.user.userId }, level: 100 },
      { user: { id: bob.user.userId }, level: 42 },
    ]);
    expect(room?.powerLevels.kick).toBe(50);
    expect(room?.members?.edges.map((edge) => edge.node)).toContainEqual({
      user: { id: alice.user.userId },
      displayName: 'Captain',
    });
    // The display name is per room: the global profile keeps its name.
    expect((await getProfile(alice.client, alice.user.userId)).displayName).toBe(
      alice.user.localpart,
    );
    const topic = (await getRoomState(alice.client, roomId)).find(
      (event) => event.type === 'm.room.topic',
    );
    expect(topic?.content).toEqual({
      topic: 'New topic',
      'm.topic': { 'm.text': [{ body: 'New topic' }] },
    });
  });

  it('should clear name, topic, avatar and display name alike: null, omitted or blank', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'clear');
    const { roomId } = await createRoom(alice.client, {});
    const { userId } = alice.user;
    await using facade = startFacade();
    const token = alice.user.accessToken;
    const contentOf = async (type: string, stateKey = '') =>
      (await getStateEvent(alice.client, roomId, type, stateKey))?.content;
    const globalName = (await getProfile(alice.client, userId)).displayName;
    expect(globalName).toBe(alice.user.localpart);

    // Alice's own level, set again as it is: the document sets a level too.
    const level = { roomId, userId, level: 100 };
    const every = (value: string | null) => ({
      name: { roomId, name: value },
      topic: { roomId, topic: value },
      avatar: { roomId, url: value },
      displayName: { roomId, displayName: value },
      level,
    });
    const clearings = [
      [
        'omitted',
        {
          name: { roomId },
          topic: { roomId },
          avatar: { roomId },
          displayName: { roomId },
          level,
        },
      ],
      ['null', every(null)],
      ['empty', every('')],
      ['blank', every(' \n\t ')],
    ] as const;
    for (const [spelling, variables] of clearings) {
      const set = await facade.graphql(RoomSettings, {
        token,
        variables: {
          name: { roomId, name: 'Named' },
          topic: { roomId, topic: 'A topic' },
          avatar: { roomId, url: 'mxc://localhost/avatar123' },
          displayName: { roomId, displayName: 'Room name for alice' },
          level,
        },
      });
      expect(set.errors).toBeUndefined();
      expect(await contentOf('m.room.member', userId)).toMatchObject({
        displayname: 'Room name for alice',
      });

      const cleared = await facade.graphql(RoomSettings, { token, variables });
      expect(cleared.errors, spelling).toBeUndefined();
      // Matrix's own "none": an empty name or topic, an avatar without `url`.
      expect(await contentOf('m.room.name'), spelling).toEqual({ name: '' });
      expect(await contentOf('m.room.topic'), spelling).toEqual({ topic: '' });
      expect(await contentOf('m.room.avatar'), spelling).toEqual({});
      // The member event takes the global name again (a member event without one would show
      // the bare user ID); membership is kept.
      expect(await contentOf('m.room.member', userId), spelling).toMatchObject({
        membership: 'join',
        displayname: globalName,
      });
    }
  });

  it('should leave a refused mutation null at its own path and keep the other', async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'local-alice'),
      newUserClient(upstream, 'local-bob'),
    ]);
    const { roomId: own } = await createRoom(alice.client, { name: 'Own' });
    const { roomId: foreign } = await createRoom(bob.client, {
      preset: 'public_chat',
      name: 'Foreign',
    });
    // Alice is in bob's room but has level 0, below the 50 that `m.room.name` takes.
    await joinRoom(alice.client, foreign);
    await using facade = startFacade();
    const result = await facade.graphql(SetRoomNameTwice, {
      token: alice.user.accessToken,
      variables: { a: { roomId: own, name: 'Renamed' }, b: { roomId: foreign, name: 'Taken' } },
    });
    expect(result.data).toEqual({ a: { room: { id: own, name: 'Renamed' } }, b: null });
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]).toMatchObject({
      path: ['b'],
      extensions: { code: 'FORBIDDEN', matrix: { errcode: 'M_FORBIDDEN', status: 403 } },
    });
    expect((await getStateEvent(bob.client, foreign, 'm.room.name'))?.content).toEqual({
      name: 'Foreign',
    });
  });

  it('should refuse a power change without power with FORBIDDEN, and bad input without a call', async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'power-alice'),
      newUserClient(upstream, 'power-bob'),
    ]);
    const { roomId } = await createRoom(alice.client, { preset: 'public_chat' });
    await joinRoom(bob.client, roomId);
    await using facade = startFacade();
    const refused = await facade.graphql(SetRoomPowerLevel, {
      token: bob.user.accessToken,
      variables: { input: { roomId, userId: bob.user.userId, level: 100 } },
    });
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      matrix: { errcode: 'M_FORBIDDEN', status: 403 },
    });

    facade.upstream.reset();
    const badUser = await facade.graphql(SetRoomPowerLevel, {
      token: bob.user.accessToken,
      variables: { input: { roomId, userId: 'bob', level: 1 } },
    });
    expect(badUser.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'userId',
    });
    const huge = await facade.graphql(SetRoomPowerLevel, {
      token: bob.user.accessToken,
      variables: { input: { roomId, userId: bob.user.userId, level: 2 ** 40 } },
    });
    expect(huge.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(huge.errors?.[0]?.message).toContain('level');
    const badAvatar = await facade.graphql(SetRoomAvatar, {
      token: bob.user.accessToken,
      variables: { input: { roomId, url: 'https://example.org/a.png' } },
    });
    expect(badAvatar.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'url',
    });
    expect(facade.upstream.requests.filter((request) => request.includes('m.room.avatar'))).toEqual(
      [],
    );
  });
});

const SetDisplayNameOnly = graphql(`
  mutation SetDisplayNameOnly($input: SetRoomDisplayNameInput!) {
    setRoomDisplayName(input: $input) {
      eventId
    }
  }
`);

describe('setRoomDisplayName', () => {
  it('should refuse a member who left, and never join them again', async () => {
    await using upstream = newUpstream();
    const [owner, bob] = await Promise.all([
      newUserClient(upstream, 'nick-owner'),
      newUserClient(upstream, 'nick-bob'),
    ]);
    const { roomId } = await createRoom(owner.client, { preset: 'public_chat' });
    await joinRoom(bob.client, roomId);
    await leaveRoom(bob.client, roomId);
    await using facade = startFacade();

    const result = await facade.graphql(SetDisplayNameOnly, {
      token: bob.user.accessToken,
      variables: { input: { roomId, displayName: 'Back again?' } },
    });

    expect(result.data).toEqual({ setRoomDisplayName: null });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const member = await getStateEvent(owner.client, roomId, 'm.room.member', bob.user.userId);
    expect(member?.content).toMatchObject({ membership: 'leave' });
    expect(facade.upstream.count(/\/state\/m\.room\.member/)).toBe(1);
  });
});

describe('createDirectRoom', () => {
  it('should create a DM once, record it in m.direct, and return it again after', async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'dm-maker'),
      newUserClient(upstream, 'dm-target'),
    ]);
    await using facade = startFacade();
    const token = alice.user.accessToken;
    const made = await facade.graphql(CreateDirectRoom, {
      token,
      variables: { input: { userId: bob.user.userId } },
    });
    expect(made.errors).toBeUndefined();
    const roomId = made.data?.createDirectRoom?.room.id ?? '';
    expect(made.data?.createDirectRoom).toMatchObject({ created: true, room: { isDirect: true } });
    expect(made.data?.createDirectRoom?.room.members?.edges.map((edge) => edge.node)).toEqual([
      { user: { id: alice.user.userId }, membership: 'JOIN' },
      { user: { id: bob.user.userId }, membership: 'INVITE' },
    ]);
    expect(await getAccountData(alice.client, alice.user.userId, 'm.direct')).toEqual({
      [bob.user.userId]: [roomId],
    });
    const found = await facade.graphql(DirectRoomOf, {
      token,
      variables: { userId: bob.user.userId },
    });
    expect(found.data?.directRoom?.id).toBe(roomId);

    const again = await facade.graphql(CreateDirectRoom, {
      token,
      variables: { input: { userId: bob.user.userId } },
    });
    expect(again.data?.createDirectRoom).toMatchObject({ created: false, room: { id: roomId } });

    const self = await facade.graphql(CreateDirectRoom, {
      token,
      variables: { input: { userId: alice.user.userId } },
    });
    expect(self.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'userId' });
  });
});

describe('membership mutations', () => {
  it('should join by alias, leave with a reason, and forget', async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'door-alice'),
      newUserClient(upstream, 'door-bob'),
    ]);
    const aliasName = `door-${randomBytes(4).toString('hex')}`;
    const { roomId } = await createRoom(alice.client, {
      preset: 'public_chat',
      roomAliasName: aliasName,
    });
    await using facade = startFacade();
    const token = bob.user.accessToken;
    const joined = await facade.graphql(JoinRoom, {
      token,
      variables: { input: { alias: `#${aliasName}:${homeserver().serverName}` } },
    });
    expect(joined.data?.joinRoom?.room).toEqual({ id: roomId, myMembership: 'JOIN' });
    const left = await facade.graphql(LeaveRoom, {
      token,
      variables: { input: { roomId, reason: 'bye' } },
    });
    expect(left.data?.leaveRoom?.room).toEqual({ id: roomId, myMembership: 'LEAVE' });
    const members = await getMembers(alice.client, roomId);
    expect(members.find((event) => event.stateKey === bob.user.userId)?.content).toMatchObject({
      membership: 'leave',
      reason: 'bye',
    });
    const forgotten = await facade.graphql(ForgetRoom, { token, variables: { input: { roomId } } });
    expect(forgotten.data?.forgetRoom?.roomId).toBe(roomId);
    const after = await facade.graphql(RoomSnapshot, { token, variables: { id: roomId } });
    expect(after.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('should join by alias and by ID through the via servers, sent as via and server_name', async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'via-alice'),
      newUserClient(upstream, 'via-bob'),
    ]);
    const { serverName } = homeserver();
    const alias = `#via-${randomBytes(4).toString('hex')}:${serverName}`;
    const { roomId } = await createRoom(alice.client, {
      preset: 'public_chat',
      roomAliasName: alias.slice(1, alias.indexOf(':')),
    });
    // The proxy sees each request's query, which the facade's own counter leaves out.
    await using proxy = await startFaultProxy(homeserver().url);
    await using facade = startFacade({ MATRIX_HOMESERVER_URL: proxy.url });
    const token = bob.user.accessToken;
    const via = [serverName, 'elsewhere.example:8448'];

    const byAlias = await facade.graphql(JoinRoom, { token, variables: { input: { alias, via } } });
    expect(byAlias.errors).toBeUndefined();
    expect(byAlias.data?.joinRoom?.room).toEqual({ id: roomId, myMembership: 'JOIN' });
    await facade.graphql(LeaveRoom, { token, variables: { input: { roomId } } });
    const byId = await facade.graphql(JoinRoom, { token, variables: { input: { roomId, via } } });
    expect(byId.data?.joinRoom?.room).toEqual({ id: roomId, myMembership: 'JOIN' });

    const query = new URLSearchParams([
      ...via.map((server) => ['via', server]),
      ...via.map((server) => ['server_name', server]),
    ]);
    expect(
      proxy.log.filter((request) => request.url.includes('/join/')).map((request) => request.url),
    ).toEqual([
      `/_matrix/client/v3/join/${encodeURIComponent(alias)}?${query}`,
      `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?${query}`,
    ]);
  });

  it('should invite and revoke, refusing to revoke an invite that is not there', async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'inv-alice'),
      newUserClient(upstream, 'inv-bob'),
    ]);
    const { roomId } = await createRoom(alice.client, {});
    await using facade = startFacade();
    const token = alice.user.accessToken;
    const input = { roomId, userId: bob.user.userId };
    const invited = await facade.graphql(InviteToRoom, { token, variables: { input } });
    expect(invited.data?.inviteToRoom?.room.invitedMemberCount).toBe(1);
    const revoked = await facade.graphql(RevokeRoomInvite, {
      token,
      variables: { input: { ...input, reason: 'wrong person' } },
    });
    expect(revoked.data?.revokeRoomInvite?.room.invitedMemberCount).toBe(0);
    const again = await facade.graphql(RevokeRoomInvite, { token, variables: { input } });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('should show a kick and a ban with their reasons in the payload, and lift the ban', async () => {
    await using upstream = newUpstream();
    const [alice, bob, carol] = await Promise.all([
      newUserClient(upstream, 'kb-alice'),
      newUserClient(upstream, 'kb-bob'),
      newUserClient(upstream, 'kb-carol'),
    ]);
    const { roomId } = await createRoom(alice.client, { preset: 'public_chat' });
    await Promise.all([joinRoom(bob.client, roomId), joinRoom(carol.client, roomId)]);
    await using facade = startFacade();
    const token = alice.user.accessToken;
    const kicked = await facade.graphql(KickFromRoom, {
      token,
      variables: { input: { roomId, userId: bob.user.userId, reason: 'cool off' } },
    });
    expect(kicked.data?.kickFromRoom?.room.members?.edges.map((edge) => edge.node)).toEqual([
      { user: { id: bob.user.userId }, membership: 'LEAVE', reason: 'cool off' },
    ]);
    const banned = await facade.graphql(BanFromRoom, {
      token,
      variables: { input: { roomId, userId: carol.user.userId, reason: 'spam' } },
    });
    expect(banned.data?.banFromRoom?.room.members?.edges.map((edge) => edge.node)).toEqual([
      { user: { id: carol.user.userId }, reason: 'spam' },
    ]);
    const unbanned = await facade.graphql(UnbanFromRoom, {
      token,
      variables: { input: { roomId, userId: carol.user.userId } },
    });
    expect(unbanned.data?.unbanFromRoom?.room.members?.edges).toEqual([]);
  });

  it('should refuse a kick without power and a banned join with FORBIDDEN, keeping errcodes', async () => {
    await using upstream = newUpstream();
    const [alice, bob, carol] = await Promise.all([
      newUserClient(upstream, 'mod-alice'),
      newUserClient(upstream, 'mod-bob'),
      newUserClient(upstream, 'mod-carol'),
    ]);
    const { roomId } = await createRoom(alice.client, { preset: 'public_chat' });
    await Promise.all([joinRoom(bob.client, roomId), joinRoom(carol.client, roomId)]);
    await using facade = startFacade();
    const kick = await facade.graphql(KickFromRoom, {
      token: bob.user.accessToken,
      variables: { input: { roomId, userId: carol.user.userId } },
    });
    expect(kick.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      matrix: { errcode: 'M_FORBIDDEN', status: 403 },
    });
    await facade.graphql(BanFromRoom, {
      token: alice.user.accessToken,
      variables: { input: { roomId, userId: carol.user.userId } },
    });
    const banned = await facade.graphql(JoinRoom, {
      token: carol.user.accessToken,
      variables: { input: { roomId } },
    });
    // Synapse answers a banned user's join with 403 M_BAD_STATE (see synapse-notes).
    expect(banned.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      matrix: { errcode: 'M_BAD_STATE', status: 403 },
    });
  });

  it('should refuse malformed IDs and overlong reasons before any upstream call', async () => {
    await using facade = startFacade();
    const token = 'any';
    const outcomes = [
      await facade.graphql(JoinRoom, { token, variables: { input: { alias: 'lobby' } } }),
      // Exactly one of roomId and alias: both, or neither, is refused.
      await facade.graphql(JoinRoom, {
        token,
        variables: { input: { roomId: '!r:hs', alias: '#lobby:hs' } },
      }),
      await facade.graphql(JoinRoom, { token, variables: { input: {} } }),
      await facade.graphql(JoinRoom, { token, variables: { input: { roomId: '#lobby:hs' } } }),
      await facade.graphql(JoinRoom, {
        token,
        variables: { input: { roomId: '!r:hs', via: ['example.org', 'not a server/'] } },
      }),
      await facade.graphql(LeaveRoom, { token, variables: { input: { roomId: '#alias:hs' } } }),
      await facade.graphql(KickFromRoom, {
        token,
        variables: { input: { roomId: '!r:hs', userId: 'carol' } },
      }),
      await facade.graphql(BanFromRoom, {
        token,
        variables: { input: { roomId: '!r:hs', userId: '@c:hs', reason: 'x'.repeat(1001) } },
      }),
    ];
    expect(outcomes.map((outcome) => outcome.errors?.[0]?.extensions)).toEqual([
      { code: 'BAD_USER_INPUT', field: 'alias' },
      { code: 'BAD_USER_INPUT', field: 'alias' },
      { code: 'BAD_USER_INPUT', field: 'roomId' },
      { code: 'BAD_USER_INPUT', field: 'roomId' },
      { code: 'BAD_USER_INPUT', field: 'via[1]' },
      { code: 'BAD_USER_INPUT', field: 'roomId' },
      { code: 'BAD_USER_INPUT', field: 'userId' },
      { code: 'BAD_USER_INPUT', field: 'reason' },
    ]);
    expect(facade.upstream.count()).toBe(0);
  });
});

describe('a moderation story', () => {
  it('should end with exactly the members and state the moderators made', async () => {
    await using upstream = newUpstream();
    const [alice, bob, carol, dave] = await Promise.all(
      ['story-alice', 'story-bob', 'story-carol', 'story-dave'].map((name) =>
        newUserClient(upstream, name),
      ),
    );
    if (!alice || !bob || !carol || !dave) {
      throw new Error('registration failed');
    }
    await using facade = startFacade();
    const as = (user: typeof alice) => user.user.accessToken;
    const errorOf = (result: { errors?: readonly { extensions?: unknown }[] | undefined }) =>
      result.errors?.[0]?.extensions ?? null;

    const created = await facade.graphql(CreateRoom, {
      token: as(alice),
      variables: { input: { name: 'Story', preset: 'PUBLIC_CHAT' } },
    });
    const roomId = created.data?.createRoom?.room.id ?? '';
    expect(roomId).toMatch(/^!/);
    const member = (user: typeof alice) => ({ roomId, userId: user.user.userId });
    const join = (user: typeof alice) =>
      facade.graphql(JoinRoom, { token: as(user), variables: { input: { roomId } } });

    expect(
      errorOf(
        await facade.graphql(InviteToRoom, { token: as(alice), variables: { input: member(bob) } }),
      ),
    ).toBeNull();
    expect(errorOf(await join(bob))).toBeNull();
    const promoted = await facade.graphql(SetRoomPowerLevel, {
      token: as(alice),
      variables: { input: { ...member(bob), level: 50 } },
    });
    expect(promoted.errors).toBeUndefined();
    const renamed = await facade.graphql(SetRoomName, {
      token: as(bob),
      variables: { input: { roomId, name: 'Story, renamed by bob' } },
    });
    expect(renamed.data?.setRoomName?.room.name).toBe('Story, renamed by bob');
    expect(errorOf(await join(carol))).toBeNull();
    expect(errorOf(await join(dave))).toBeNull();
    const kick = await facade.graphql(KickFromRoom, {
      token: as(alice),
      variables: { input: { ...member(carol), reason: 'rude' } },
    });
    expect(errorOf(kick)).toBeNull();
    const ban = await facade.graphql(BanFromRoom, {
      token: as(alice),
      variables: { input: { ...member(dave), reason: 'spam' } },
    });
    expect(errorOf(ban)).toBeNull();
    expect(errorOf(await join(dave))).toMatchObject({ code: 'FORBIDDEN' });
    expect(
      errorOf(
        await facade.graphql(UnbanFromRoom, {
          token: as(alice),
          variables: { input: member(dave) },
        }),
      ),
    ).toBeNull();
    expect(
      errorOf(
        await facade.graphql(LeaveRoom, { token: as(bob), variables: { input: { roomId } } }),
      ),
    ).toBeNull();

    const final = await facade.graphql(RoomSnapshot, {
      token: as(alice),
      variables: { id: roomId },
    });
    expect(final.data?.room).toEqual({
      name: 'Story, renamed by bob',
      joinRule: 'PUBLIC',
      powerLevels: {
        users: [
          { user: { id: alice.user.userId }, level: 100 },
          { user: { id: bob.user.userId }, level: 50 },
        ],
      },
      members: {
        edges: [
          { node: { user: { id: alice.user.userId }, membership: 'JOIN', reason: null } },
          { node: { user: { id: bob.user.userId }, membership: 'LEAVE', reason: null } },
          ...[
            { user: carol.user, reason: 'rude' },
            { user: dave.user, reason: null },
          ]
            .sort((a, b) => a.user.localpart.localeCompare(b.user.localpart))
            .map(({ user, reason }) => ({
              node: { user: { id: user.userId }, membership: 'LEAVE', reason },
            })),
        ],
      },
    });
    // The same, straight from Synapse.
    const members = await getMembers(alice.client, roomId);
    expect(
      Object.fromEntries(members.map((event) => [event.stateKey, event.content['membership']])),
    ).toEqual({
      [alice.user.userId]: 'join',
      [bob.user.userId]: 'leave',
      [carol.user.userId]: 'leave',
      [dave.user.userId]: 'leave',
    });
  });
});
