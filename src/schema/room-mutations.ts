/**
 * Mutations that change a room's own state: setRoomName, setRoomTopic, setRoomAvatar,
 * setRoomDisplayName, setRoomPowerLevel. Each sends one state event and returns the room as it
 * is afterwards. The first four share one clearing rule (`valueOrClear`).
 */
import { getProfile } from '../matrix/account.ts';
import { getStateEvent, putStateEvent } from '../matrix/room-state.ts';
import { membershipIn } from '../room/membership.ts';
import { builder, type Context } from './builder.ts';
import { facadeError } from './errors.ts';
import { requireRoomId, requireUserId } from './matrix-ids.ts';
import {
  MAX_BODY_BYTES,
  MAX_ROOM_NAME_BYTES,
  type RoomEventPayloadShape,
  requireMaxBytes,
  requireMxcUri,
  roomEventPayloadFields,
  valueOrClear,
} from './mutation-support.ts';

/** The longest room display name the facade forwards, in bytes (as Synapse's profile limit). */
const MAX_DISPLAY_NAME_BYTES = 256;

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

/** How the `setRoom…` value fields say the clearing rule. */
const CLEARS = '`null`, omitted, or a blank string clears';

builder.relayMutationField(
  'setRoomName',
  {
    description: 'Input of `setRoomName`.',
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room to rename (a room ID, `!…`).' }),
      name: t.string({
        required: false,
        description: `The new name, trimmed, at most ${MAX_ROOM_NAME_BYTES} bytes. ${CLEARS} it (the room then has no name, as Matrix treats an empty one).`,
      }),
    }),
  },
  {
    description: `Sets or clears the room's name (\`m.room.name\`). ${CLEARS} it: the event is sent with \`name: ""\`, which Matrix treats as no name.`,
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const name = requireMaxBytes(
        valueOrClear(input.name)?.trim() ?? '',
        'name',
        MAX_ROOM_NAME_BYTES,
      );
      return sendState(context, roomId, 'm.room.name', '', { name });
    },
  },
  { outputFields: roomEventPayloadFields },
);

builder.relayMutationField(
  'setRoomTopic',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room (a room ID, `!…`).' }),
      topic: t.string({
        required: false,
        description: `The new topic in plain text, sent as written, at most ${MAX_BODY_BYTES} bytes. ${CLEARS} it.`,
      }),
    }),
  },
  {
    description: `Sets or clears the room's topic (\`m.room.topic\`, in its plain and its \`m.topic\` form). ${CLEARS} it: the event is sent with \`topic: ""\`, which Matrix treats as no topic.`,
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const topic = requireMaxBytes(valueOrClear(input.topic), 'topic', MAX_BODY_BYTES);
      // Spec v1.15 adds `m.topic` (text with a mimetype) beside the plain `topic`; clients read
      // either, so both are sent, as Synapse does when it creates a room. An empty `topic`
      // alone clears it: an `m.topic` with an empty text would be a topic of its own.
      return sendState(
        context,
        roomId,
        'm.room.topic',
        '',
        topic === null ? { topic: '' } : { topic, 'm.topic': { 'm.text': [{ body: topic }] } },
      );
    },
  },
  { outputFields: roomEventPayloadFields },
);

builder.relayMutationField(
  'setRoomAvatar',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room (a room ID, `!…`).' }),
      url: t.string({
        required: false,
        description: `An \`mxc://\` URI of an uploaded image. ${CLEARS} the avatar.`,
      }),
    }),
  },
  {
    description: `Sets or clears the room's avatar (\`m.room.avatar\`). ${CLEARS} it: the event is sent with no \`url\` (\`{}\`), which Matrix treats as no avatar.`,
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const url = valueOrClear(input.url);
      const content = url === null ? {} : { url: requireMxcUri(url, 'url') };
      return sendState(context, roomId, 'm.room.avatar', '', content);
    },
  },
  { outputFields: roomEventPayloadFields },
);

builder.relayMutationField(
  'setRoomDisplayName',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room (a room ID, `!…`).' }),
      displayName: t.string({
        required: false,
        description: `The name to show in this room only, sent as written, at most ${MAX_DISPLAY_NAME_BYTES} bytes. ${CLEARS} it: the viewer's global display name applies again.`,
      }),
    }),
  },
  {
    description: `Sets the viewer's display name in one room, through their own \`m.room.member\` state (the global profile is unchanged). ${CLEARS} it: the member event takes the global profile's display name again (or none, if the profile has none).`,
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const given = requireMaxBytes(
        valueOrClear(input.displayName),
        'displayName',
        MAX_DISPLAY_NAME_BYTES,
      );
      const { client } = context.session.viewer;
      const viewer = await context.session.viewer.whoami();
      // The member event carries membership and avatar too: change only the name, on top of the
      // current event read fresh (not from a cache), so nothing else is lost. Matrix has no
      // per-room override to remove: a member event without a name shows the bare user ID, so
      // clearing copies the global name back, as the homeserver does when the profile changes.
      const [current, displayName] = await Promise.all([
        getStateEvent(client, roomId, 'm.room.member', viewer.userId),
        given ?? getProfile(client, viewer.userId).then((profile) => profile.displayName),
      ]);
      // Only the name changes: a member event that also said `join` would re-join a user who has
      // left a public room. Only a joined member has a display name in the room to set.
      if (membershipIn(current?.content) !== 'join') {
        throw facadeError(
          'FORBIDDEN',
          'Only a joined member can set their display name in this room.',
        );
      }
      const content: Record<string, unknown> = { ...current?.content };
      if (displayName === null) {
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
  'setRoomPowerLevel',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room (a room ID, `!…`).' }),
      userId: t.id({ required: true, description: 'The user whose level changes.' }),
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
