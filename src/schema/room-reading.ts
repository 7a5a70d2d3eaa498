/**
 * What the viewer has read, and says while writing: `Room.unreadNotifications`, `Room.readMarker`,
 * `markRead` and `setTyping` (the `typing` subscription shows the other side). docs/queries.md
 * says what each costs upstream.
 */
import { setReadMarkers } from '../matrix/read-markers.ts';
import type { UnreadNotifications } from '../matrix/sync.ts';
import { setTyping } from '../matrix/typing.ts';
import { eventKey } from '../session/request-loaders.ts';
import { builder } from './builder.ts';
import { facadeError } from './errors.ts';
import { RoomEventRef } from './event.ts';
import { requireEventId, requireRoomId } from './matrix-ids.ts';
import { roomPayloadFields } from './mutation-support.ts';
import { RoomRef } from './room.ts';

const UnreadNotificationsRef = builder
  .objectRef<UnreadNotifications>('UnreadNotifications')
  .implement({
    description:
      "The viewer's unread counts in a room, as the homeserver's push rules count them: events after the viewer's read receipt that notify.",
    fields: (t) => ({
      notificationCount: t.exposeInt('notificationCount', {
        description: 'How many unread events would notify the viewer.',
      }),
      highlightCount: t.exposeInt('highlightCount', {
        description: 'How many of those highlight (a mention, a keyword).',
      }),
    }),
  });

interface ReadMarkerShape {
  roomId: string;
  eventId: string;
}

const ReadMarkerRef = builder.objectRef<ReadMarkerShape>('ReadMarker').implement({
  description:
    "Where the viewer's fully-read marker stands in a room (`m.fully_read`): the viewer has read everything up to this event.",
  fields: (t) => ({
    eventId: t.exposeID('eventId', { description: 'The event the marker points to.' }),
    event: t.field({
      type: RoomEventRef,
      nullable: true,
      description: 'That event (one more upstream call).',
      resolve: (marker, _args, context) =>
        context.session.loaders.event.load(eventKey(marker.roomId, marker.eventId)),
    }),
  }),
});

builder.objectFields(RoomRef, (t) => ({
  unreadNotifications: t.field({
    type: UnreadNotificationsRef,
    nullable: true,
    description:
      "The viewer's unread counts. From the room list's own answer when the room came from `rooms` (no call of its own); otherwise one `/sync` filtered to the rooms asked for (shared by every room of the request). `null` unless the viewer is joined.",
    resolve: (room, _args, context) => {
      const listing = room.listing;
      if (listing?.unreadNotifications !== undefined) {
        return listing.unreadNotifications;
      }
      if (listing !== null && listing.membership !== 'join') {
        return null;
      }
      return context.session.loaders.unreadNotifications.load(room.roomId);
    },
  }),
  readMarker: t.field({
    type: ReadMarkerRef,
    nullable: true,
    description:
      "The viewer's fully-read marker (`m.fully_read` room account data, one upstream call per room); `null` when the viewer never set one.",
    resolve: async (room, _args, context) => {
      const eventId = await context.session.loaders.fullyRead.load(room.roomId);
      return eventId === null ? null : { roomId: room.roomId, eventId };
    },
  }),
}));

builder.relayMutationField(
  'markRead',
  {
    description: 'Input of `markRead`.',
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room (a room ID, `!…`).' }),
      eventId: t.id({
        required: true,
        description: 'The event read up to, usually the newest one the client shows.',
      }),
    }),
  },
  {
    description:
      'Marks the room read up to an event: moves the fully-read marker (`m.fully_read`) and the public read receipt (`m.read`) there, in one call (`POST /rooms/{roomId}/read_markers`). The unread counts follow the receipt (the homeserver may take a moment).',
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const eventId = requireEventId(String(input.eventId), 'eventId');
      await setReadMarkers(context.session.viewer.client, roomId, eventId);
      context.session.invalidate();
      return { roomId };
    },
  },
  { outputFields: roomPayloadFields },
);

/** How long a `setTyping` may say the viewer types, in milliseconds, and the default. */
export const MAX_TYPING_TIMEOUT_MS = 120_000;
export const DEFAULT_TYPING_TIMEOUT_MS = 30_000;

builder.relayMutationField(
  'setTyping',
  {
    description: 'Input of `setTyping`.',
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room (a room ID, `!…`).' }),
      typing: t.boolean({
        required: true,
        description: 'Whether the viewer is typing (`false`: has stopped).',
      }),
      timeoutMs: t.int({
        required: false,
        description: `How long the viewer counts as typing unless told again, 1 to ${MAX_TYPING_TIMEOUT_MS} ms (${DEFAULT_TYPING_TIMEOUT_MS} by default); ignored when \`typing\` is false.`,
      }),
    }),
  },
  {
    description:
      "Tells the room the viewer is typing, or has stopped (`PUT /rooms/{roomId}/typing/{userId}`); the room's members see it in the `typing` subscription.",
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const timeoutMs = input.timeoutMs ?? DEFAULT_TYPING_TIMEOUT_MS;
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TYPING_TIMEOUT_MS) {
        throw facadeError(
          'BAD_USER_INPUT',
          `timeoutMs must be 1 to ${MAX_TYPING_TIMEOUT_MS} milliseconds.`,
          { extensions: { field: 'timeoutMs' } },
        );
      }
      const { userId } = await context.session.viewer.whoami();
      await setTyping(context.session.viewer.client, roomId, userId, input.typing, timeoutMs);
      return { roomId };
    },
  },
  { outputFields: roomPayloadFields },
);
