/**
 * Room aliases: `Room.aliases` (the homeserver's local aliases), `Room.altAliases` (the room's
 * published ones), `resolveAlias`, and the mutations createRoomAlias, deleteRoomAlias and
 * setCanonicalAlias. (`directory.yaml`; `m.room.canonical_alias`)
 */
import { createAlias, deleteAlias, getLocalAliases, resolveAlias } from '../matrix/directory.ts';
import { MatrixApiError } from '../matrix/errors.ts';
import { absentAsNull } from '../matrix/policy.ts';
import { getStateEvent, putStateEvent } from '../matrix/room-state.ts';
import { stringsIn } from '../room/content.ts';
import { builder } from './builder.ts';
import { facadeError } from './errors.ts';
import { requireRoomAlias, requireRoomId } from './matrix-ids.ts';
import { type RoomPayloadShape, roomEventPayloadFields } from './mutation-support.ts';
import { RoomRef, summaryStateOf } from './room.ts';

/** The most `altAliases` `setCanonicalAlias` forwards (100 aliases of 255 bytes fit in an event). */
export const MAX_ALT_ALIASES = 100;

builder.objectFields(RoomRef, (t) => ({
  aliases: t.stringList({
    // Its own upstream call, per room: a refusal is null here, not the room.
    nullable: true,
    description:
      "The aliases on the viewer's homeserver that point at the room (`GET /rooms/{roomId}/aliases`, one more upstream call): every local alias, published or not, uncurated. `null` with FORBIDDEN when the viewer may not see the room. For the room's own choice, see `canonicalAlias` and `altAliases`.",
    resolve: (room, _args, context) => getLocalAliases(context.session.viewer.client, room.roomId),
  }),
  altAliases: t.stringList({
    description:
      'The other aliases the room publishes (`alt_aliases` of `m.room.canonical_alias`); empty when it publishes none.',
    resolve: async (room, _args, context) => {
      const content = (await summaryStateOf(context, room, 'altAliases')).content(
        'm.room.canonical_alias',
      );
      return content === null ? [] : stringsIn(content, 'alt_aliases');
    },
  }),
}));

/** What `resolveAlias` found: an alias, the room it points to, and servers to join through. */
interface ResolvedAliasShape {
  alias: string;
  roomId: string;
  servers: string[];
}

const ResolvedRoomAliasRef = builder.objectRef<ResolvedAliasShape>('ResolvedRoomAlias').implement({
  description:
    'Where an alias points, as the directory says. No node and no `id`: an alias can move to another room; `room` is the room now.',
  fields: (t) => ({
    alias: t.exposeString('alias', { description: 'The alias that was resolved.' }),
    roomId: t.exposeID('roomId', { description: 'The ID of the room the alias points to.' }),
    servers: t.exposeStringList('servers', {
      description: 'Servers that know the room, to join through (`joinRoom`’s `via`).',
    }),
    room: t.field({
      type: RoomRef,
      nullable: true,
      description:
        "The room itself, read through the viewer's own access: `null` (with FORBIDDEN) where its fields need state the viewer may not read.",
      resolve: (resolved) => ({ roomId: resolved.roomId, listing: null }),
    }),
  }),
});

builder.queryField('resolveAlias', (t) =>
  t.field({
    type: ResolvedRoomAliasRef,
    nullable: true,
    description:
      'Where an alias (`#…`) points: the room ID and servers to join through (`GET /directory/room/{roomAlias}`, one upstream call; an alias on another server is asked over federation). `null` for an alias nobody has. Unlike `roomByAlias`, it works for rooms the viewer cannot see.',
    args: {
      alias: t.arg.string({
        required: true,
        description: 'A room alias, e.g. `#lobby:example.org`.',
      }),
    },
    resolve: async (_root, args, context) => {
      const alias = requireRoomAlias(args.alias, 'alias');
      const resolved = await absentAsNull(resolveAlias(context.session.viewer.client, alias));
      return resolved === null ? null : { alias, ...resolved };
    },
  }),
);

/** What createRoomAlias and deleteRoomAlias return: the alias and its room. */
interface AliasPayloadShape extends RoomPayloadShape {
  alias: string;
}

type FacadeTypes =
  typeof builder extends PothosSchemaTypes.SchemaBuilder<infer Types> ? Types : never;

function aliasPayloadFields(
  t: PothosSchemaTypes.ObjectFieldBuilder<FacadeTypes, AliasPayloadShape>,
  roomDescription: string,
) {
  return {
    alias: t.exposeString('alias', { description: 'The alias.' }),
    room: t.field({
      type: RoomRef,
      nullable: true,
      description: roomDescription,
      resolve: (payload) => ({ roomId: payload.roomId, listing: null }),
    }),
  };
}

builder.relayMutationField(
  'createRoomAlias',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room (a room ID, `!…`).' }),
      alias: t.string({
        required: true,
        description:
          "The new alias, e.g. `#lobby:example.org`; its server must be the viewer's homeserver.",
      }),
    }),
  },
  {
    description:
      "Points a new alias at a room (`PUT /directory/room/{roomAlias}`). It is listed in `Room.aliases` but not published: add it to `altAliases` (or make it the canonical alias) with `setCanonicalAlias`. BAD_USER_INPUT naming `alias` when the alias is taken (`extensions.matrix`: status 409, errcode `M_UNKNOWN` as the spec has it); FORBIDDEN for an alias on another server or where the homeserver's rules forbid it.",
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const alias = requireRoomAlias(input.alias, 'alias');
      try {
        await createAlias(context.session.viewer.client, alias, roomId);
      } catch (error) {
        // A taken alias is 409 with `M_UNKNOWN` (directory.yaml; Synapse does the same, not
        // createRoom's `M_ROOM_IN_USE`): said as the input at fault, the homeserver's verdict kept.
        if (error instanceof MatrixApiError && error.status === 409) {
          throw facadeError('BAD_USER_INPUT', `alias: ${alias} is already taken.`, {
            extensions: { field: 'alias', matrix: { errcode: error.errcode, status: 409 } },
          });
        }
        throw error;
      }
      context.session.invalidate();
      return { roomId, alias };
    },
  },
  {
    outputFields: (t) => aliasPayloadFields(t, 'The room the alias now points to.'),
  },
);

builder.relayMutationField(
  'deleteRoomAlias',
  {
    inputFields: (t) => ({
      alias: t.string({
        required: true,
        description: 'The alias to remove, e.g. `#lobby:example.org`.',
      }),
    }),
  },
  {
    description:
      "Removes an alias (`DELETE /directory/room/{roomAlias}`), after resolving it for the payload's `room`. Allowed for the alias's creator, server admins and, on Synapse, whoever may send `m.room.canonical_alias` in the room; Synapse also drops it from that event. NOT_FOUND (`M_NOT_FOUND`) for an alias nobody has, FORBIDDEN (`M_FORBIDDEN`) for anyone else.",
    resolve: async (_root, { input }, context) => {
      const alias = requireRoomAlias(input.alias, 'alias');
      const client = context.session.viewer.client;
      const { roomId } = await resolveAlias(client, alias);
      await deleteAlias(client, alias);
      context.session.invalidate();
      return { roomId, alias };
    },
  },
  {
    outputFields: (t) => aliasPayloadFields(t, 'The room the alias pointed to, as it is now.'),
  },
);

/** The alias, or `null` (none) for null, omitted or blank. */
function optionalAlias(value: string | null | undefined): string | null {
  return value == null || value.trim() === '' ? null : requireRoomAlias(value, 'alias');
}

/** Every entry an alias, at most {@link MAX_ALT_ALIASES}, duplicates dropped; `null` kept. */
export function altAliasesInput(values: readonly string[] | null | undefined): string[] | null {
  if (values == null) {
    return null;
  }
  if (values.length > MAX_ALT_ALIASES) {
    throw facadeError(
      'BAD_USER_INPUT',
      `altAliases must list at most ${MAX_ALT_ALIASES} aliases.`,
      {
        extensions: { field: 'altAliases' },
      },
    );
  }
  return [...new Set(values.map((value) => requireRoomAlias(value, 'altAliases')))];
}

builder.relayMutationField(
  'setCanonicalAlias',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room (a room ID, `!…`).' }),
      alias: t.string({
        required: false,
        description:
          'The canonical alias, e.g. `#lobby:example.org`. `null`, omitted, or a blank string clears it (the room then has no canonical alias).',
      }),
      altAliases: t.stringList({
        required: false,
        description: `The other aliases to publish (at most ${MAX_ALT_ALIASES}; duplicates count once), replacing the current list; \`[]\` clears it. \`null\` or omitted keeps the current list.`,
      }),
    }),
  },
  {
    description:
      "Sets the room's published aliases (`m.room.canonical_alias`): the current event is read fresh and sent again with `alias` and, when given, `alt_aliases` changed (its other keys kept). The homeserver refuses an alias that does not point at this room (BAD_USER_INPUT, `M_BAD_ALIAS`) and a viewer without the power to send the event (FORBIDDEN).",
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const alias = optionalAlias(input.alias);
      const altAliases = altAliasesInput(input.altAliases);
      const client = context.session.viewer.client;
      const current = await getStateEvent(client, roomId, 'm.room.canonical_alias');
      const content: Record<string, unknown> = { ...current?.content };
      if (alias === null) {
        delete content['alias'];
      } else {
        content['alias'] = alias;
      }
      if (altAliases !== null) {
        content['alt_aliases'] = altAliases;
      }
      const { eventId } = await putStateEvent(
        client,
        roomId,
        'm.room.canonical_alias',
        '',
        content,
      );
      context.session.invalidate();
      return { roomId, eventId };
    },
  },
  { outputFields: roomEventPayloadFields },
);
