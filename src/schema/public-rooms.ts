/** The public room directory: `publicRooms` and the `PublicRoom` type. */
import { getPublicRooms, type PublicRoom } from '../matrix/directory.ts';
import { JOIN_RULES, knownValue } from '../room/room-settings.ts';
import { builder } from './builder.ts';
import { badCursor, pageRequest } from './connection-args.ts';
import { openCursor, sealCursor, sealedConnection } from './cursor.ts';
import { facadeError } from './errors.ts';
import { RoomRef } from './room.ts';
import { GuestAccessEnum, JoinRuleEnum } from './room-settings.ts';

const PublicRoomRef = builder.objectRef<PublicRoom>('PublicRoom').implement({
  description:
    "A room in the homeserver's public room directory, as the directory describes it. It is no node and has no `id` of its own: the same room read as a `Room` is `room`, whose `id` is `roomId`.",
  fields: (t) => ({
    roomId: t.exposeID('roomId', {
      description: 'The room ID: pass it to `room(id:)` or `joinRoom`.',
    }),
    room: t.field({
      type: RoomRef,
      nullable: true,
      description:
        "The room itself, read through the viewer's own access: `null` (with FORBIDDEN) where its fields need state the viewer may not read, e.g. a room they never joined whose history is not world-readable.",
      resolve: (publicRoom) => ({ roomId: publicRoom.roomId, listing: null }),
    }),
    name: t.exposeString('name', { nullable: true, description: 'The room name, if any.' }),
    topic: t.exposeString('topic', { nullable: true, description: 'The room topic, if any.' }),
    canonicalAlias: t.exposeString('canonicalAlias', {
      nullable: true,
      description: 'The canonical alias, e.g. `#lobby:example.org`, if any.',
    }),
    avatarUrl: t.exposeString('avatarUrl', {
      nullable: true,
      description: 'The room avatar, an `mxc://` URI, if any.',
    }),
    joinRule: t.field({
      type: JoinRuleEnum,
      nullable: true,
      description:
        'Who may join: the directory lists PUBLIC and KNOCK rooms (it may leave the rule out, meaning PUBLIC); `null` for a value the spec does not define (see `joinRuleValue`).',
      resolve: (room) => knownValue(JOIN_RULES, room.joinRule ?? 'public'),
    }),
    joinRuleValue: t.exposeString('joinRule', {
      nullable: true,
      description: 'The join rule exactly as the directory gave it (absent means `public`).',
    }),
    roomType: t.exposeString('roomType', {
      nullable: true,
      description: 'The `m.room.create` type, e.g. `m.space`; `null` for ordinary rooms.',
    }),
    joinedMemberCount: t.exposeInt('numJoinedMembers', {
      description: 'How many users are joined, as the directory counts them.',
    }),
    worldReadable: t.exposeBoolean('worldReadable', {
      description:
        'Whether anyone may read the history without joining (the room’s history visibility is WORLD_READABLE).',
    }),
    guestAccess: t.field({
      type: GuestAccessEnum,
      description: 'Whether guest accounts may join, as `Room.guestAccess` says it.',
      resolve: (room) => (room.guestCanJoin ? 'can_join' : 'forbidden'),
    }),
  }),
});

/**
 * Where a page starts: the directory token its rooms were fetched from (`null`: the first page)
 * and how many of that fetch's rooms came before. Directory tokens mark pages, not rooms, so
 * this is what lets a client resume after any room.
 */
interface DirectoryPosition {
  since: string | null;
  skip: number;
}

function directoryScope(search: string | null): unknown[] {
  return ['public-rooms', search];
}

function readPosition(key: Uint8Array, search: string | null, cursor: string): DirectoryPosition {
  const payload = openCursor(key, directoryScope(search), cursor) as
    | { s?: unknown; k?: unknown }
    | undefined;
  const since = payload?.s;
  const skip = payload?.k;
  if (
    (since !== null && typeof since !== 'string') ||
    typeof skip !== 'number' ||
    !Number.isInteger(skip) ||
    skip < 0
  ) {
    throw badCursor('after');
  }
  return { since, skip };
}

builder.queryField('publicRooms', (t) =>
  t.connection(
    {
      type: PublicRoomRef,
      description:
        "The homeserver's public room directory, in its order; `search` keeps rooms whose name, topic or alias contain the term. Pages forward only (`first`/`after`).",
      args: {
        search: t.arg.string({
          required: false,
          description:
            'Only rooms whose name, topic or alias contains this text (the homeserver decides how it matches).',
        }),
      },
      resolve: async (_root, args, context) => {
        const { size, backward } = pageRequest(args);
        if (backward) {
          throw facadeError(
            'BAD_USER_INPUT',
            'publicRooms pages forward only: use first and after.',
            { extensions: { field: args.last == null ? 'before' : 'last' } },
          );
        }
        const search = args.search?.trim() || null;
        const start =
          args.after == null
            ? { since: null, skip: 0 }
            : readPosition(context.cursorKey, search, args.after);
        const { client } = context.session.viewer;

        // Fetch from the start position until one room more than the page (to know whether
        // there is a next page) or the end of the directory.
        const found: { room: PublicRoom; position: DirectoryPosition }[] = [];
        let since = start.since;
        let skip = start.skip;
        for (;;) {
          const page = await getPublicRooms(client, {
            limit: skip + size + 1 - found.length,
            ...(since === null ? {} : { since }),
            ...(search === null ? {} : { searchTerm: search }),
          });
          page.rooms.slice(skip).forEach((room, index) => {
            found.push({ room, position: { since, skip: skip + index + 1 } });
          });
          if (found.length > size || page.nextBatch === null || page.rooms.length === 0) {
            break;
          }
          since = page.nextBatch;
          skip = 0;
        }
        const scope = directoryScope(search);
        return sealedConnection(
          found.slice(0, size),
          {
            node: ({ room }) => room,
            cursor: ({ position }) =>
              sealCursor(context.cursorKey, scope, { s: position.since, k: position.skip }),
          },
          { hasNextPage: found.length > size, hasPreviousPage: args.after != null },
        );
      },
    },
    {
      name: 'PublicRoomConnection',
      description: 'One page of the list: its edges, and where it stands in the whole list.',
    },
    {
      name: 'PublicRoomEdge',
      description: 'One item of the page (a room of the public directory) with its cursor.',
    },
  ),
);
