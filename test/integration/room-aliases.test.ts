import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getLocalAliases, resolveAlias } from '../../src/matrix/directory.ts';
import { getStateEvent } from '../../src/matrix/room-state.ts';
import { createRoom, joinRoom } from '../../src/matrix/rooms.ts';
import { graphql } from '../generated/gql.ts';
import { startFacade } from '../support/facade.ts';
import { homeserver, newUpstream, newUserClient } from '../support/homeserver.ts';

const CreateRoomAlias = graphql(`
  mutation CreateRoomAlias($input: CreateRoomAliasInput!) {
    createRoomAlias(input: $input) {
      clientMutationId
      alias
      room {
        id
        aliases
      }
    }
  }
`);

const DeleteRoomAlias = graphql(`
  mutation DeleteRoomAlias($input: DeleteRoomAliasInput!) {
    deleteRoomAlias(input: $input) {
      clientMutationId
      alias
      room {
        id
      }
    }
  }
`);

const SetCanonicalAlias = graphql(`
  mutation SetCanonicalAlias($input: SetCanonicalAliasInput!) {
    setCanonicalAlias(input: $input) {
      clientMutationId
      eventId
      room {
        id
        canonicalAlias
        altAliases
      }
    }
  }
`);

const ResolveAlias = graphql(`
  query ResolveAlias($alias: String!) {
    resolveAlias(alias: $alias) {
      alias
      roomId
      servers
      room {
        id
      }
    }
  }
`);

const ResolveAliasRoomAliases = graphql(`
  query ResolveAliasRoomAliases($alias: String!) {
    resolveAlias(alias: $alias) {
      roomId
      room {
        aliases
      }
    }
  }
`);

const RoomAliases = graphql(`
  query RoomAliases($id: ID!) {
    room(id: $id) {
      canonicalAlias
      altAliases
      aliases
    }
  }
`);

/** A fresh alias on the test homeserver. */
function newAlias(prefix = 'alias'): string {
  return `#${prefix}-${randomUUID().slice(0, 8)}:${homeserver().serverName}`;
}

describe('createRoomAlias and resolveAlias', () => {
  it('should create an alias, list it in Room.aliases and resolve it', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'alias');
    const { roomId } = await createRoom(client, { preset: 'private_chat' });
    const alias = newAlias();

    const created = await facade.graphql(CreateRoomAlias, {
      token: user.accessToken,
      variables: { input: { roomId, alias, clientMutationId: 'c1' } },
    });
    expect(created.errors).toBeUndefined();
    expect(created.data?.createRoomAlias).toEqual({
      clientMutationId: 'c1',
      alias,
      room: { id: roomId, aliases: [alias] },
    });
    expect(facade.upstream.requests).toEqual([
      expect.stringMatching(/^PUT \/_matrix\/client\/v3\/directory\/room\/%23alias-/),
      expect.stringMatching(/^GET \/_matrix\/client\/v3\/rooms\/.+\/aliases$/),
    ]);
    // Straight from the homeserver.
    expect(await getLocalAliases(client, roomId)).toEqual([alias]);
    expect((await resolveAlias(client, alias)).roomId).toBe(roomId);

    facade.upstream.reset();
    const resolved = await facade.graphql(ResolveAlias, {
      token: user.accessToken,
      variables: { alias },
    });
    expect(resolved.errors).toBeUndefined();
    expect(resolved.data?.resolveAlias).toEqual({
      alias,
      roomId,
      servers: [homeserver().serverName],
      room: { id: roomId },
    });
    expect(facade.upstream.requests).toEqual([
      expect.stringMatching(/^GET \/_matrix\/client\/v3\/directory\/room\/%23alias-/),
    ]);
  });

  it('should refuse a taken alias as BAD_USER_INPUT with the 409 kept', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'alias');
    const { roomId } = await createRoom(client, { preset: 'private_chat' });
    const other = await createRoom(client, { preset: 'private_chat' });
    const alias = newAlias('taken');
    const first = await facade.graphql(CreateRoomAlias, {
      token: user.accessToken,
      variables: { input: { roomId, alias } },
    });
    expect(first.errors).toBeUndefined();

    const again = await facade.graphql(CreateRoomAlias, {
      token: user.accessToken,
      variables: { input: { roomId: other.roomId, alias } },
    });
    expect(again.data?.createRoomAlias).toBeNull();
    expect(again.errors?.[0]).toMatchObject({
      path: ['createRoomAlias'],
      // directory.yaml: 409 `M_UNKNOWN` (createRoom's taken alias is 400 `M_ROOM_IN_USE`).
      extensions: {
        code: 'BAD_USER_INPUT',
        field: 'alias',
        matrix: { errcode: 'M_UNKNOWN', status: 409 },
      },
    });
    // Still the first room's.
    expect((await resolveAlias(client, alias)).roomId).toBe(roomId);
  });

  it('should refuse malformed input before any upstream call', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'alias');
    const { roomId } = await createRoom(client, { preset: 'private_chat' });
    facade.upstream.reset();

    const badAlias = await facade.graphql(CreateRoomAlias, {
      token: user.accessToken,
      variables: { input: { roomId, alias: 'lobby' } },
    });
    expect(badAlias.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'alias',
    });
    const badRoom = await facade.graphql(CreateRoomAlias, {
      token: user.accessToken,
      variables: { input: { roomId: '#not-a-room:x', alias: newAlias() } },
    });
    expect(badRoom.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'roomId',
    });
    const badResolve = await facade.graphql(ResolveAlias, {
      token: user.accessToken,
      variables: { alias: '!room:x' },
    });
    expect(badResolve.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'alias',
    });
    const badCanonical = await facade.graphql(SetCanonicalAlias, {
      token: user.accessToken,
      variables: { input: { roomId, altAliases: [newAlias(), 'nope'] } },
    });
    expect(badCanonical.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'altAliases',
    });
    expect(facade.upstream.requests).toEqual([]);
  });

  it('should resolve an unknown alias to null, and read a room the viewer cannot see as FORBIDDEN', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'owner');
    const outsider = await newUserClient(upstream, 'outsider');
    const { roomId } = await createRoom(client, { preset: 'private_chat' });
    const alias = newAlias('hidden');
    await facade.graphql(CreateRoomAlias, {
      token: user.accessToken,
      variables: { input: { roomId, alias } },
    });

    const unknown = await facade.graphql(ResolveAlias, {
      token: user.accessToken,
      variables: { alias: newAlias('nobody') },
    });
    expect(unknown.errors).toBeUndefined();
    expect(unknown.data?.resolveAlias).toBeNull();

    facade.upstream.reset();
    const hidden = await facade.graphql(ResolveAliasRoomAliases, {
      token: outsider.user.accessToken,
      variables: { alias },
    });
    // The directory answers anyone; the room's local aliases only its members.
    expect(hidden.data?.resolveAlias).toEqual({ roomId, room: { aliases: null } });
    expect(hidden.errors).toHaveLength(1);
    expect(hidden.errors?.[0]).toMatchObject({
      path: ['resolveAlias', 'room', 'aliases'],
      extensions: { code: 'FORBIDDEN', matrix: { errcode: 'M_FORBIDDEN', status: 403 } },
    });
    expect(facade.upstream.count()).toBe(2);
  });
});

describe('deleteRoomAlias', () => {
  it('should delete an alias and return the room it pointed to', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'alias');
    const { roomId } = await createRoom(client, { preset: 'private_chat' });
    const alias = newAlias('gone');
    await facade.graphql(CreateRoomAlias, {
      token: user.accessToken,
      variables: { input: { roomId, alias } },
    });
    facade.upstream.reset();

    const deleted = await facade.graphql(DeleteRoomAlias, {
      token: user.accessToken,
      variables: { input: { alias, clientMutationId: 'd1' } },
    });
    expect(deleted.errors).toBeUndefined();
    expect(deleted.data?.deleteRoomAlias).toEqual({
      clientMutationId: 'd1',
      alias,
      room: { id: roomId },
    });
    expect(facade.upstream.requests).toEqual([
      expect.stringMatching(/^GET \/_matrix\/client\/v3\/directory\/room\/%23gone-/),
      expect.stringMatching(/^DELETE \/_matrix\/client\/v3\/directory\/room\/%23gone-/),
    ]);
    expect(await getLocalAliases(client, roomId)).toEqual([]);

    // Gone now: NOT_FOUND.
    const again = await facade.graphql(DeleteRoomAlias, {
      token: user.accessToken,
      variables: { input: { alias } },
    });
    expect(again.data?.deleteRoomAlias).toBeNull();
    expect(again.errors?.[0]).toMatchObject({
      path: ['deleteRoomAlias'],
      extensions: { code: 'NOT_FOUND', matrix: { errcode: 'M_NOT_FOUND', status: 404 } },
    });
  });

  it("should refuse to delete someone else's alias with M_FORBIDDEN", async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'owner');
    const stranger = await newUserClient(upstream, 'stranger');
    const { roomId } = await createRoom(client, { preset: 'private_chat' });
    const alias = newAlias('kept');
    await facade.graphql(CreateRoomAlias, {
      token: user.accessToken,
      variables: { input: { roomId, alias } },
    });

    const refused = await facade.graphql(DeleteRoomAlias, {
      token: stranger.user.accessToken,
      variables: { input: { alias } },
    });
    expect(refused.data?.deleteRoomAlias).toBeNull();
    expect(refused.errors?.[0]).toMatchObject({
      path: ['deleteRoomAlias'],
      extensions: { code: 'FORBIDDEN', matrix: { errcode: 'M_FORBIDDEN', status: 403 } },
    });
    expect((await resolveAlias(client, alias)).roomId).toBe(roomId);
  });
});

describe('setCanonicalAlias', () => {
  it('should publish aliases, keep altAliases when omitted, and clear', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'canon');
    const { roomId } = await createRoom(client, { preset: 'private_chat' });
    const main = newAlias('main');
    const alt = newAlias('alt');
    const third = newAlias('third');
    for (const alias of [main, alt, third]) {
      const created = await facade.graphql(CreateRoomAlias, {
        token: user.accessToken,
        variables: { input: { roomId, alias } },
      });
      expect(created.errors).toBeUndefined();
    }
    facade.upstream.reset();

    const set = await facade.graphql(SetCanonicalAlias, {
      token: user.accessToken,
      variables: { input: { roomId, alias: main, altAliases: [alt, alt], clientMutationId: 's' } },
    });
    expect(set.errors).toBeUndefined();
    expect(set.data?.setCanonicalAlias).toEqual({
      clientMutationId: 's',
      eventId: expect.stringMatching(/^\$/),
      room: { id: roomId, canonicalAlias: main, altAliases: [alt] },
    });
    expect(facade.upstream.requests.slice(0, 2)).toEqual([
      expect.stringMatching(
        /^GET \/_matrix\/client\/v3\/rooms\/.+\/state\/m\.room\.canonical_alias\/$/,
      ),
      expect.stringMatching(
        /^PUT \/_matrix\/client\/v3\/rooms\/.+\/state\/m\.room\.canonical_alias\/$/,
      ),
    ]);
    expect((await getStateEvent(client, roomId, 'm.room.canonical_alias'))?.content).toEqual({
      alias: main,
      alt_aliases: [alt],
    });

    // altAliases omitted: kept; alias changed.
    const moved = await facade.graphql(SetCanonicalAlias, {
      token: user.accessToken,
      variables: { input: { roomId, alias: third } },
    });
    expect(moved.data?.setCanonicalAlias?.room).toEqual({
      id: roomId,
      canonicalAlias: third,
      altAliases: [alt],
    });

    // Read back through the query, with the local aliases.
    const read = await facade.graphql(RoomAliases, {
      token: user.accessToken,
      variables: { id: roomId },
    });
    expect(read.errors).toBeUndefined();
    expect(read.data?.room?.canonicalAlias).toBe(third);
    expect(read.data?.room?.altAliases).toEqual([alt]);
    expect([...(read.data?.room?.aliases ?? [])].sort()).toEqual([main, alt, third].sort());

    // Clear both.
    const cleared = await facade.graphql(SetCanonicalAlias, {
      token: user.accessToken,
      variables: { input: { roomId, alias: ' ', altAliases: [] } },
    });
    expect(cleared.data?.setCanonicalAlias?.room).toEqual({
      id: roomId,
      canonicalAlias: null,
      altAliases: [],
    });
    expect((await getStateEvent(client, roomId, 'm.room.canonical_alias'))?.content).toEqual({
      alt_aliases: [],
    });
  });

  it('should refuse an alias of another room with M_BAD_ALIAS, and a powerless member with M_FORBIDDEN', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'canon');
    const { roomId } = await createRoom(client, { preset: 'public_chat' });
    const elsewhere = await createRoom(client, { preset: 'private_chat' });
    const foreign = newAlias('foreign');
    await facade.graphql(CreateRoomAlias, {
      token: user.accessToken,
      variables: { input: { roomId: elsewhere.roomId, alias: foreign } },
    });

    const bad = await facade.graphql(SetCanonicalAlias, {
      token: user.accessToken,
      variables: { input: { roomId, alias: foreign } },
    });
    expect(bad.data?.setCanonicalAlias).toBeNull();
    expect(bad.errors?.[0]).toMatchObject({
      path: ['setCanonicalAlias'],
      extensions: { code: 'BAD_USER_INPUT', matrix: { errcode: 'M_BAD_ALIAS', status: 400 } },
    });

    const member = await newUserClient(upstream, 'member');
    await joinRoom(member.client, roomId);
    const powerless = await facade.graphql(SetCanonicalAlias, {
      token: member.user.accessToken,
      variables: { input: { roomId, alias: null } },
    });
    expect(powerless.data?.setCanonicalAlias).toBeNull();
    expect(powerless.errors?.[0]).toMatchObject({
      path: ['setCanonicalAlias'],
      extensions: { code: 'FORBIDDEN', matrix: { errcode: 'M_FORBIDDEN', status: 403 } },
    });
  });
});
