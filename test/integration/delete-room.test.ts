import { describe, expect, it } from 'vitest';
import { resolveAlias } from '../../src/matrix/directory.ts';
import { type ClientEvent, toClientEvents } from '../../src/matrix/events.ts';
import type { MatrixClient } from '../../src/matrix/matrix-client.ts';
import { clientPath } from '../../src/matrix/paths.ts';
import {
  getMembers,
  getRoomState,
  getStateEvent,
  putStateEvent,
} from '../../src/matrix/room-state.ts';
import { createRoom, inviteUser, joinRoom } from '../../src/matrix/rooms.ts';
import { adminPath, getRoomDetails } from '../../src/matrix/synapse-admin.ts';
import type { WireClientEvent } from '../../src/matrix/wire-types.ts';
import { graphql } from '../generated/gql.ts';
import { startFacade } from '../support/facade.ts';
import { homeserver, newUpstream, newUser, newUserClient } from '../support/homeserver.ts';

const DeleteRoom = graphql(`
  mutation DeleteRoom($input: DeleteRoomInput!) {
    deleteRoom(input: $input) {
      clientMutationId
      roomId
      method
    }
  }
`);

const DeletedRoomLookup = graphql(`
  query DeletedRoomLookup($id: ID!) {
    room(id: $id) {
      id
      myMembership
    }
  }
`);

const DeletedRoomList = graphql(`
  query DeletedRoomList($membership: Membership) {
    rooms(first: 100, membership: $membership) {
      edges {
        node {
          id
        }
      }
    }
  }
`);

/**
 * The room's current state as a server admin sees it (Synapse's Room State API,
 * `{"state": [...]}`), whether or not the admin is in the room. Synapse drops a room's current
 * state once no user of the homeserver is left in it: then the list is empty.
 */
async function stateAsAdmin(admin: MatrixClient, roomId: string): Promise<ClientEvent[]> {
  const body = await admin.send<{ state: WireClientEvent[] }>({
    method: 'GET',
    path: adminPath`/v1/rooms/${roomId}/state`,
  });
  return toClientEvents(body.state, roomId);
}

/** user ID → membership, from state events. */
function memberships(events: readonly ClientEvent[]): Record<string, unknown> {
  return Object.fromEntries(
    events
      .filter((event) => event.type === 'm.room.member' && event.stateKey !== null)
      .map((event) => [event.stateKey, event.content['membership']]),
  );
}

function directoryVisibility(
  client: MatrixClient,
  roomId: string,
): Promise<{ visibility: string }> {
  return client.send({ method: 'GET', path: clientPath`/directory/list/room/${roomId}` });
}

/**
 * A public, listed room with an alias: the owner (100), a moderator (50), a joined member, an
 * invited user, and one who knocked (the join rule is `knock` by then).
 */
async function crowdedRoom() {
  const upstream = newUpstream();
  const [owner, moderator, member, invitee, knocker] = await Promise.all([
    newUserClient(upstream, 'owner'),
    newUserClient(upstream, 'moderator'),
    newUserClient(upstream, 'member'),
    newUserClient(upstream, 'invitee'),
    newUserClient(upstream, 'knocker'),
  ]);
  const aliasName = `doomed-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const { roomId } = await createRoom(owner.client, {
    preset: 'public_chat',
    visibility: 'public',
    roomAliasName: aliasName,
    name: 'Doomed',
    powerLevelContentOverride: {
      users: { [owner.user.userId]: 100, [moderator.user.userId]: 50 },
    },
  });
  await Promise.all([joinRoom(moderator.client, roomId), joinRoom(member.client, roomId)]);
  await inviteUser(owner.client, roomId, invitee.user.userId);
  await putStateEvent(owner.client, roomId, 'm.room.join_rules', '', { join_rule: 'knock' });
  await knocker.client.send({
    method: 'POST',
    path: clientPath`/knock/${roomId}`,
    body: { reason: 'let me in' },
  });
  return {
    upstream,
    roomId,
    alias: `#${aliasName}:${homeserver().serverName}`,
    owner,
    moderator,
    member,
    invitee,
    knocker,
  };
}

describe('deleteRoom', () => {
  it('should purge the room through the Admin API when a server admin asks', async () => {
    const { upstream, roomId, alias, owner, member, invitee } = await crowdedRoom();
    await using _upstream = upstream;
    const admin = await newUser('admin', { admin: true });
    await using facade = startFacade({ DELETE_ROOM_ADMIN_PURGE: 'true' });

    const result = await facade.graphql(DeleteRoom, {
      token: admin.accessToken,
      variables: { input: { roomId, reason: 'spam', clientMutationId: 'd1' } },
    });

    expect(result.errors).toBeUndefined();
    expect(result.data?.deleteRoom).toEqual({
      clientMutationId: 'd1',
      roomId,
      method: 'ADMIN_PURGE',
    });
    // The admin was never in the room: the Admin API did everything.
    expect(facade.upstream.count(/\/_matrix\/client\/v3\/rooms\//)).toBe(0);
    expect(facade.upstream.count(/^DELETE \/_synapse\/admin\/v2\/rooms\//)).toBe(1);

    // Synapse no longer knows the room; its alias went with it.
    expect(await getRoomDetails(upstream.client(admin.accessToken), roomId)).toBeNull();
    await expect(resolveAlias(owner.client, alias)).rejects.toMatchObject({
      status: 404,
      errcode: 'M_NOT_FOUND',
    });
    // Former members cannot read it, and it left their lists in every membership state (Synapse
    // makes each local member leave and forgets the room for them before the purge).
    for (const [who, membership] of [
      [owner, 'JOIN'],
      [member, 'JOIN'],
      [member, 'LEAVE'],
      [invitee, 'INVITE'],
      [invitee, 'LEAVE'],
    ] as const) {
      const lookup = await facade.graphql(DeletedRoomLookup, {
        token: who.user.accessToken,
        variables: { id: roomId },
      });
      expect(lookup.data?.room ?? null).toBeNull();
      expect(lookup.errors?.[0]?.extensions).toMatchObject({
        code: 'FORBIDDEN',
        matrix: { errcode: 'M_FORBIDDEN', status: 403 },
      });
      const list = await facade.graphql(DeletedRoomList, {
        token: who.user.accessToken,
        variables: { membership },
      });
      expect(list.errors).toBeUndefined();
      expect(list.data?.rooms.edges.map((edge) => edge.node.id)).not.toContain(roomId);
    }
  });

  it('should treat a server admin as any member while the operator has not enabled the purge', async () => {
    const { upstream, roomId, owner } = await crowdedRoom();
    await using _upstream = upstream;
    const admin = await newUser('admin', { admin: true });
    await using facade = startFacade();

    const result = await facade.graphql(DeleteRoom, {
      token: admin.accessToken,
      variables: { input: { roomId } },
    });

    expect(result.data).toEqual({ deleteRoom: null });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect(facade.upstream.count(/\/_synapse\/admin\//)).toBe(0);
    // Nothing changed: the owner still reads the room.
    expect(await getRoomDetails(upstream.client(admin.accessToken), roomId)).not.toBeNull();
    await expect(getMembers(owner.client, roomId)).resolves.not.toHaveLength(0);
  });

  it('should refuse an admin a room the homeserver does not know with NOT_FOUND', async () => {
    const admin = await newUser('admin', { admin: true });
    await using facade = startFacade({ DELETE_ROOM_ADMIN_PURGE: 'true' });
    const result = await facade.graphql(DeleteRoom, {
      token: admin.accessToken,
      variables: { input: { roomId: `!unknown-${Date.now()}:${homeserver().serverName}` } },
    });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
    expect(facade.upstream.count(/^DELETE /)).toBe(0);
  });

  it('should shut the room down when its owner (no server admin) asks', async () => {
    const { upstream, roomId, alias, owner, moderator, member, invitee, knocker } =
      await crowdedRoom();
    await using _upstream = upstream;
    const admin = upstream.client((await newUser('admin', { admin: true })).accessToken);
    expect(memberships(await stateAsAdmin(admin, roomId))).toEqual({
      [owner.user.userId]: 'join',
      [moderator.user.userId]: 'join',
      [member.user.userId]: 'join',
      [invitee.user.userId]: 'invite',
      [knocker.user.userId]: 'knock',
    });
    await using facade = startFacade();

    const result = await facade.graphql(DeleteRoom, {
      token: owner.user.accessToken,
      variables: { input: { roomId, reason: 'Closing down' } },
    });

    expect(result.errors).toBeUndefined();
    expect(result.data?.deleteRoom).toEqual({
      clientMutationId: null,
      roomId,
      method: 'SHUT_DOWN',
    });
    // The admin purge is off (the default): not even the admin check is made.
    expect(facade.upstream.count(/\/_synapse\/admin\//)).toBe(0);
    expect(facade.upstream.count(/\/kick$/)).toBe(4);

    // Once nobody of this homeserver is left, Synapse keeps no current state for the room (the
    // admin's Room State API answers an empty list). Each removed user still reads the room as it
    // was when they were removed: their own membership, and the join rule set before any removal.
    for (const removed of [moderator, member, invitee, knocker]) {
      const seen = await getMembers(removed.client, roomId);
      expect(seen.find((event) => event.stateKey === removed.user.userId)).toMatchObject({
        sender: owner.user.userId,
        content: { membership: 'leave', reason: 'Closing down' },
      });
      const joinRules = await getStateEvent(removed.client, roomId, 'm.room.join_rules');
      expect(joinRules?.content).toEqual({ join_rule: 'invite' });
    }
    expect(memberships(await stateAsAdmin(admin, roomId))).toEqual({});

    // Unlisted, and its alias removed (as an admin purge would have).
    expect(await directoryVisibility(admin, roomId)).toEqual({ visibility: 'private' });
    await expect(resolveAlias(member.client, alias)).rejects.toMatchObject({ status: 404 });

    // The owner left and forgot it: not readable, not even among left rooms.
    await expect(getMembers(owner.client, roomId)).rejects.toMatchObject({ status: 403 });
    const lookup = await facade.graphql(DeletedRoomLookup, {
      token: owner.user.accessToken,
      variables: { id: roomId },
    });
    expect(lookup.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const left = await facade.graphql(DeletedRoomList, {
      token: owner.user.accessToken,
      variables: { membership: 'LEAVE' },
    });
    expect(left.data?.rooms.edges.map((edge) => edge.node.id)).not.toContain(roomId);
    // A removed member cannot come back: with nobody of this homeserver left in the room, Synapse
    // has no server to join through (404 M_UNKNOWN "Can't join remote room because no servers
    // that are in the room have been provided"), and the join rule is invite anyway.
    await expect(joinRoom(member.client, roomId)).rejects.toMatchObject({ status: 404 });
  });

  it('should refuse a member without the power to kick with FORBIDDEN and change nothing', async () => {
    const { upstream, roomId, alias, owner, member } = await crowdedRoom();
    await using _upstream = upstream;
    const before = await getRoomState(owner.client, roomId);
    await using facade = startFacade();

    const result = await facade.graphql(DeleteRoom, {
      token: member.user.accessToken,
      variables: { input: { roomId } },
    });

    expect(result.data).toEqual({ deleteRoom: null });
    expect(result.errors?.[0]).toMatchObject({
      path: ['deleteRoom'],
      extensions: { code: 'FORBIDDEN' },
    });
    expect(result.errors?.[0]?.message).toContain('power to kick');
    expect(facade.upstream.requests.filter((request) => !request.startsWith('GET '))).toEqual([]);
    const after = await getRoomState(owner.client, roomId);
    expect(memberships(after)).toEqual(memberships(before));
    expect(after.map((event) => event.eventId).sort()).toEqual(
      before.map((event) => event.eventId).sort(),
    );
    expect(await directoryVisibility(owner.client, roomId)).toEqual({ visibility: 'public' });
    expect((await resolveAlias(owner.client, alias)).roomId).toBe(roomId);
  });

  it('should refuse a moderator who cannot remove the owner, before changing anything', async () => {
    const { upstream, roomId, owner, moderator } = await crowdedRoom();
    await using _upstream = upstream;
    const before = await getRoomState(owner.client, roomId);
    await using facade = startFacade();

    const result = await facade.graphql(DeleteRoom, {
      token: moderator.user.accessToken,
      variables: { input: { roomId } },
    });

    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect(result.errors?.[0]?.message).toContain(owner.user.userId);
    expect(facade.upstream.requests.filter((request) => !request.startsWith('GET '))).toEqual([]);
    const after = await getRoomState(owner.client, roomId);
    expect(after.map((event) => event.eventId).sort()).toEqual(
      before.map((event) => event.eventId).sort(),
    );
  });

  it('should refuse someone who is not in the room with FORBIDDEN', async () => {
    await using upstream = newUpstream();
    const [owner, stranger] = await Promise.all([
      newUserClient(upstream, 'owner'),
      newUserClient(upstream, 'stranger'),
    ]);
    const { roomId } = await createRoom(owner.client, { preset: 'private_chat' });
    await using facade = startFacade();
    const result = await facade.graphql(DeleteRoom, {
      token: stranger.user.accessToken,
      variables: { input: { roomId } },
    });
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      matrix: { errcode: 'M_FORBIDDEN', status: 403 },
    });
    expect(memberships(await getRoomState(owner.client, roomId))).toEqual({
      [owner.user.userId]: 'join',
    });
  });

  it('should refuse a malformed room ID or reason with BAD_USER_INPUT before any upstream call', async () => {
    await using facade = startFacade();
    for (const roomId of ['not-a-room', '!', '#alias:hs', '! spaced:hs']) {
      const result = await facade.graphql(DeleteRoom, {
        token: 'any',
        variables: { input: { roomId } },
      });
      expect(result.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'roomId',
      });
    }
    const longReason = await facade.graphql(DeleteRoom, {
      token: 'any',
      variables: { input: { roomId: '!room:hs', reason: 'x'.repeat(1001) } },
    });
    expect(longReason.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'reason',
    });
    expect(facade.upstream.count()).toBe(0);
  });
});
