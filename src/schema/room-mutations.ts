/**
 * Mutations that change a room's own state: rename, setTopic, setRoomAvatar, setNickname,
 * setPowerLevel. Each sends one state event and returns the room as it is afterwards.
 */
import { getStateEvent, putStateEvent } from '../matrix/room-state.ts';
import { builder, type Context } from './builder.ts';
import { requireRoomId, requireUserId } from './matrix-ids.ts';
import {
  MAX_ROOM_NAME_BYTES,
  type RoomEventPayloadShape,
  requireMaxBytes,
  requireMxcUri,
  roomEventPayloadFields,
} from './mutation-support.ts';

/**
 * Sends one state event as the viewer and drops the request's caches, so the payload's room reads
 * as it is now.
 */
async function sendState(
  context: Context,
  roomId: string,
  type: string,
  stateKey: string,
  content: Record<string, unknown>,
): Promise<RoomEventPayloadShape> {
  const { eventId } = await putStateEvent(
    context.session.viewer.client,
    roomId,
    type,
    stateKey,
    content,
  );
  context.session.invalidate();
  return { roomId, eventId };
}

builder.relayMutationField(
  'rename',
  {
    description: 'Input of `rename`.',
    inputFields: (t) => ({
      roomId: t.id({ required: true }),
      name: t.string({
        required: true,
        description: 'The new name (at most 255 bytes); an empty name removes it.',
      }),
    }),
  },
  {
    description: "Sets the room's name (`m.room.name`).",
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const name = requireMaxBytes(input.name.trim(), 'name', MAX_ROOM_NAME_BYTES);
      return sendState(context, roomId, 'm.room.name', '', {
        name,
      });
    },
  },
  { outputFields: roomEventPayloadFields },
);

builder.relayMutationField(
  'setTopic',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true }),
      topic: t.string({ required: true, description: 'The new topic; empty removes it.' }),
    }),
  },
  {
    description: "Sets the room's topic (`m.room.topic`, in its plain and its `m.topic` form).",
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const topic = requireMaxBytes(input.topic, 'topic', 30_000);
      // Spec v1.15 adds `m.topic` (text with a mimetype) beside the plain `topic`; clients read
      // either, so both are sent, as Synapse does when it creates a room.
      return sendState(context, roomId, 'm.room.topic', '', {
        topic,
        'm.topic': { 'm.text': [{ body: topic }] },
      });
    },
  },
  { outputFields: roomEventPayloadFields },
);

builder.relayMutationField(
  'setRoomAvatar',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true }),
      url: t.string({
        required: false,
        description: 'An `mxc://` URI of an uploaded image; `null` removes the avatar.',
      }),
    }),
  },
  {
    description: "Sets the room's avatar (`m.room.avatar`).",
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const content = input.url == null ? {} : { url: requireMxcUri(input.url, 'url') };
      return sendState(context, roomId, 'm.room.avatar', '', content);
    },
  },
  { outputFields: roomEventPayloadFields },
);

builder.relayMutationField(
  'setNickname',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true }),
      displayName: t.string({
        required: false,
        description: 'The name to show in this room only; `null` goes back to the global one.',
      }),
    }),
  },
  {
    description:
      "Sets the viewer's display name in one room, through their own `m.room.member` state (the global profile is unchanged).",
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const displayName = requireMaxBytes(input.displayName, 'displayName', 256);
      const { client } = context.session.viewer;
      const viewer = await context.session.viewer.whoami();
      // The member event carries membership and avatar too: change only the name, on top of the
      // current event read fresh (not from a cache), so nothing else is lost.
      const current = await getStateEvent(client, roomId, 'm.room.member', viewer.userId);
      const content: Record<string, unknown> = { ...current?.content, membership: 'join' };
      if (displayName == null) {
        delete content['displayname'];
      } else {
        content['displayname'] = displayName;
      }
      return sendState(context, roomId, 'm.room.member', viewer.userId, content);
    },
  },
  { outputFields: roomEventPayloadFields },
);

builder.relayMutationField(
  'setPowerLevel',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true }),
      userId: t.id({ required: true }),
      level: t.int({
        required: true,
        description:
          'The new level (usually 0 to 100; negative levels are allowed). The homeserver refuses levels above your own.',
      }),
    }),
  },
  {
    description: "Sets one user's power level (`m.room.power_levels`), keeping every other level.",
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const userId = requireUserId(String(input.userId), 'userId');
      const client = context.session.viewer.client;
      // Read fresh and change one entry: the event replaces the whole map.
      const current = await getStateEvent(client, roomId, 'm.room.power_levels');
      const content = { ...current?.content };
      const users = content['users'];
      content['users'] = {
        ...(typeof users === 'object' && users !== null ? users : {}),
        [userId]: input.level,
      };
      return sendState(context, roomId, 'm.room.power_levels', '', content);
    },
  },
  { outputFields: roomEventPayloadFields },
);
