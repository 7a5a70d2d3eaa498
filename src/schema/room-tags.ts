/**
 * Room tags, the viewer's own labels on a room (`tags.yaml`): `Room.tags`, `setRoomTag` and
 * `removeRoomTag`. Only the names the spec gives clients are accepted: `m.favourite`,
 * `m.lowpriority`, and user-defined `u.*` tags.
 */
import { deleteRoomTag, putRoomTag, type RoomTag } from '../matrix/tags.ts';
import { builder, type Context } from './builder.ts';
import { facadeError } from './errors.ts';
import { requireRoomId } from './matrix-ids.ts';
import { type RoomPayloadShape, roomPayloadFields } from './mutation-support.ts';
import { RoomRef } from './room.ts';

/** The longest tag name accepted, in bytes (Synapse stores it in a path segment and a key). */
const MAX_TAG_BYTES = 255;

const RoomTagRef = builder.objectRef<RoomTag>('RoomTag').implement({
  description: 'A tag the viewer put on a room (`m.tag` room account data).',
  fields: (t) => ({
    name: t.exposeString('name', {
      description: '`m.favourite`, `m.lowpriority`, a user-defined `u.…` tag, or another client’s.',
    }),
    order: t.exposeFloat('order', {
      nullable: true,
      description:
        'Where the room sorts among the rooms with this tag, from 0 to 1 (lower first); `null` when unset.',
    }),
  }),
});

builder.objectField(RoomRef, 'tags', (t) =>
  t.field({
    type: [RoomTagRef],
    nullable: true,
    description:
      "The viewer's tags on the room, by name. From the room list's own answer when the room came from `rooms` (no call of its own), or from the `roomUpdated` item that pushed it; otherwise `GET /user/{userId}/rooms/{roomId}/tags`, one upstream call per room.",
    resolve: (room, _args, context) =>
      room.listing?.tags ?? context.session.loaders.roomTags.load(room.roomId),
  }),
);

/**
 * A tag name a client may set (or list rooms by): BAD_USER_INPUT (no upstream call) for any
 * other, naming the argument `tag`.
 */
export function requireTagName(value: string): string {
  const allowed =
    value === 'm.favourite' || value === 'm.lowpriority' || /^u\.[^\s/]+$/u.test(value);
  if (!allowed || Buffer.byteLength(value, 'utf8') > MAX_TAG_BYTES) {
    throw facadeError(
      'BAD_USER_INPUT',
      `tag must be m.favourite, m.lowpriority or a user-defined u.… tag of at most ${MAX_TAG_BYTES} bytes.`,
      { extensions: { field: 'tag' } },
    );
  }
  return value;
}

/** An order in [0, 1] (the spec's range), or none. */
function optionalOrder(value: number | null | undefined): number | null {
  if (value == null) {
    return null;
  }
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw facadeError('BAD_USER_INPUT', 'order must be from 0 to 1.', {
      extensions: { field: 'order' },
    });
  }
  return value;
}

async function viewerId(context: Context): Promise<string> {
  return (await context.session.viewer.whoami()).userId;
}

builder.relayMutationField(
  'setRoomTag',
  {
    description: 'Input of `setRoomTag`.',
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room (a room ID, `!…`).' }),
      tag: t.string({
        required: true,
        description: '`m.favourite`, `m.lowpriority`, or a user-defined tag starting with `u.`.',
      }),
      order: t.float({
        required: false,
        description: 'Where the room sorts among rooms with this tag, 0 to 1 (lower first).',
      }),
    }),
  },
  {
    description:
      'Tags the room for the viewer (`PUT /user/{userId}/rooms/{roomId}/tags/{tag}`), or updates the order of a tag it has.',
    resolve: async (_root, { input }, context): Promise<RoomPayloadShape> => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const tag = requireTagName(input.tag);
      const order = optionalOrder(input.order);
      const userId = await viewerId(context);
      await putRoomTag(context.session.viewer.client, userId, roomId, tag, order);
      context.session.invalidate();
      return { roomId };
    },
  },
  { outputFields: roomPayloadFields },
);

builder.relayMutationField(
  'removeRoomTag',
  {
    description: 'Input of `removeRoomTag`.',
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room (a room ID, `!…`).' }),
      tag: t.string({
        required: true,
        description: '`m.favourite`, `m.lowpriority`, or a user-defined tag starting with `u.`.',
      }),
    }),
  },
  {
    description:
      'Removes a tag from the room for the viewer (`DELETE /user/{userId}/rooms/{roomId}/tags/{tag}`); removing a tag the room does not have succeeds.',
    resolve: async (_root, { input }, context): Promise<RoomPayloadShape> => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const tag = requireTagName(input.tag);
      const userId = await viewerId(context);
      await deleteRoomTag(context.session.viewer.client, userId, roomId, tag);
      context.session.invalidate();
      return { roomId };
    },
  },
  { outputFields: roomPayloadFields },
);
