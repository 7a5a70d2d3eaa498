/**
 * Events of any type: sendEvent (a timeline event, idempotent like sendMessage) and setRoomState
 * (a state event). `Room.stateEvent` and `Room.messages` read them back. (`room_send.yaml`,
 * `room_state.yaml`)
 */
import { sendMessageEvent } from '../matrix/room-events.ts';
import { putStateEvent } from '../matrix/room-state.ts';
import { builder } from './builder.ts';
import { facadeError } from './errors.ts';
import { requireRoomId } from './matrix-ids.ts';
import {
  MAX_IDEMPOTENCY_KEY_LENGTH,
  requireMaxBytes,
  roomEventPayloadFields,
  sentEventPayloadFields,
  transactionId,
} from './mutation-support.ts';

/** Event types and state keys: "MUST NOT exceed 255 bytes" (spec, "Size limits"). */
export const MAX_EVENT_TYPE_BYTES = 255;
export const MAX_STATE_KEY_BYTES = 255;
/**
 * The most bytes of content (as JSON) the facade forwards: a whole event is capped at 65,536
 * bytes of canonical JSON, and this leaves room for the envelope (IDs, signatures, hashes).
 */
export const MAX_CONTENT_BYTES = 60_000;

/**
 * Types with mutations of their own, which a raw event would bypass: a redaction names its
 * target in the path (`redactEvent`), and membership goes through the membership mutations,
 * which check what the homeserver expects of each change.
 */
export const RESERVED_EVENT_TYPES: Readonly<Record<string, string>> = {
  'm.room.redaction': 'redactEvent',
};
export const RESERVED_STATE_TYPES: Readonly<Record<string, string>> = {
  'm.room.member':
    'joinRoom, leaveRoom, inviteToRoom, kickFromRoom, banFromRoom or setRoomDisplayName',
  'm.room.create': 'createRoom (the create event never changes)',
};

function refuse(field: string, message: string): never {
  throw facadeError('BAD_USER_INPUT', `${field} ${message}`, { extensions: { field } });
}

/**
 * An event type: 1 to {@link MAX_EVENT_TYPE_BYTES} bytes, no whitespace or control characters
 * (no event type of the spec has any, and they would be unreadable in clients), no lone
 * surrogate (not text: it cannot be put into a URL); not a type of `reserved`.
 */
export function requireEventType(
  value: string,
  reserved: Readonly<Record<string, string>>,
  field = 'type',
): string {
  if (value === '') {
    refuse(field, 'must not be empty.');
  }
  requireMaxBytes(value, field, MAX_EVENT_TYPE_BYTES);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (/[\s\u0000-\u001f\u007f]/u.test(value) || /\p{Cs}/u.test(value)) {
    refuse(field, 'must not contain whitespace or control characters.');
  }
  const instead = reserved[value];
  if (instead !== undefined) {
    refuse(field, `"${value}" has its own mutation: use ${instead}.`);
  }
  return value;
}

/** A state key: any text of at most {@link MAX_STATE_KEY_BYTES} bytes, empty included. */
export function requireStateKey(value: string, field = 'stateKey'): string {
  requireMaxBytes(value, field, MAX_STATE_KEY_BYTES);
  if (/\p{Cs}/u.test(value)) {
    refuse(field, 'must not contain a lone surrogate.');
  }
  return value;
}

/**
 * JSON with every object's keys sorted (Matrix's canonical JSON, short of its number rules): the
 * same content written in another key order is the same text, so a retry hashes the same.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The content as canonical JSON, at most {@link MAX_CONTENT_BYTES} bytes. */
export function requireContent(content: Record<string, unknown>, field = 'content'): string {
  return requireMaxBytes(canonicalJson(content), field, MAX_CONTENT_BYTES);
}

builder.relayMutationField(
  'sendEvent',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room to send to (a room ID, `!…`).' }),
      type: t.string({
        required: true,
        description: `The event type, e.g. \`m.reaction\` or \`com.example.ping\`: 1 to ${MAX_EVENT_TYPE_BYTES} bytes, no whitespace. \`m.room.redaction\` is refused: use \`redactEvent\`.`,
      }),
      content: t.field({
        type: 'JSON',
        required: true,
        description: `The event content, a JSON object sent as given (at most ${MAX_CONTENT_BYTES} bytes as JSON).`,
      }),
      idempotencyKey: t.string({
        required: false,
        description: `Makes a retry safe, as in \`sendMessage\`: any string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters. The same key with the same request (room, \`type\`, \`content\` in any key order) from the same session sends nothing and returns the first event; the same key with a different request is sent. Without a key every call sends.`,
      }),
    }),
  },
  {
    description:
      'Sends a timeline (non-state) event of any type, e.g. a reaction or an `m.room.message` other than text. Idempotent through `idempotencyKey`, like `sendMessage`. Malformed types and oversized content are BAD_USER_INPUT before any upstream call.',
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const type = requireEventType(input.type, RESERVED_EVENT_TYPES);
      const json = requireContent(input.content);
      const txnId = transactionId(input.idempotencyKey, {
        mutation: 'sendEvent',
        roomId,
        content: [type, json],
      });
      const { eventId } = await sendMessageEvent(
        context.session.viewer.client,
        roomId,
        type,
        txnId,
        input.content,
      );
      context.session.invalidate();
      return { roomId, eventId };
    },
  },
  {
    outputFields: (t) => sentEventPayloadFields(t, 'The event'),
  },
);

builder.relayMutationField(
  'setRoomState',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room (a room ID, `!…`).' }),
      type: t.string({
        required: true,
        description: `The state event type, e.g. \`m.room.pinned_events\` or \`com.example.settings\`: 1 to ${MAX_EVENT_TYPE_BYTES} bytes, no whitespace. \`m.room.member\` and \`m.room.create\` are refused (membership has its own mutations; the create event never changes).`,
      }),
      stateKey: t.string({
        required: false,
        defaultValue: '',
        description: `The state key (at most ${MAX_STATE_KEY_BYTES} bytes); empty by default. A user ID here is sent percent-encoded, as any value in a path.`,
      }),
      content: t.field({
        type: 'JSON',
        required: true,
        description: `The whole new content, replacing the current one (at most ${MAX_CONTENT_BYTES} bytes as JSON); \`{}\` empties it.`,
      }),
    }),
  },
  {
    description:
      "Sets one state event of any type and key (`PUT /rooms/{roomId}/state/{eventType}/{stateKey}`); read it back with `Room.stateEvent`. A state PUT sets the state to this content however often it arrives, so a retry is safe without a key. The homeserver refuses a viewer without the event's power level (FORBIDDEN).",
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const type = requireEventType(input.type, RESERVED_STATE_TYPES);
      const stateKey = requireStateKey(input.stateKey ?? '');
      requireContent(input.content);
      const { eventId } = await putStateEvent(
        context.session.viewer.client,
        roomId,
        type,
        stateKey,
        input.content,
      );
      context.session.invalidate();
      return { roomId, eventId };
    },
  },
  { outputFields: roomEventPayloadFields },
);
