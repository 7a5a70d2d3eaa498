/** The public room directory: `publicRooms` and the `PublicRoom` type. */
import { getPublicRooms, type PublicRoom } from '../matrix/directory.ts';
import { builder } from './builder.ts';
import { badCursor, pageRequest } from './connection-args.ts';
import { openCursor, sealCursor } from './cursor.ts';
import { facadeError } from './errors.ts';

const PublicRoomRef = builder.objectRef<PublicRoom>('PublicRoom').implement({
  description: "A room in the homeserver's public room directory, as the directory describes it.",
  fields: (t) => ({
    id: t.exposeID('roomId', { description: 'The room ID: pass it to `room(id:)` or `join`.' }),
    name: t.exposeString('name', { nullable: true }),
    topic: t.exposeString('topic', { nullable: true }),
    canonicalAlias: t.exposeString('canonicalAlias', { nullable: true }),
    avatarUrl: t.exposeString('avatarUrl', { nullable: true }),
    joinRule: t.exposeString('joinRule', {
      nullable: true,
      description: '`public` or `knock` (the directory may leave it out, meaning `public`).',
    }),
    roomType: t.exposeString('roomType', {
      nullable: true,
      description: 'The `m.room.create` type, e.g. `m.space`; `null` for ordinary rooms.',
    }),
    joinedMemberCount: t.exposeInt('numJoinedMembers'),
    worldReadable: t.exposeBoolean('worldReadable', {
      description: 'Whether anyone may read the history without joining.',
    }),
    guestCanJoin: t.exposeBoolean('guestCanJoin'),
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
      args: { search: t.arg.string({ required: false }) },
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
        const edges = found.slice(0, size).map(({ room, position }) => ({
          cursor: sealCursor(context.cursorKey, directoryScope(search), {
            s: position.since,
            k: position.skip,
          }),
          node: room,
        }));
        return {
          edges,
          pageInfo: {
            hasNextPage: found.length > size,
            hasPreviousPage: args.after != null,
            startCursor: edges[0]?.cursor ?? null,
            endCursor: edges.at(-1)?.cursor ?? null,
          },
        };
      },
    },
    { name: 'PublicRoomConnection' },
    { name: 'PublicRoomEdge' },
  ),
);
