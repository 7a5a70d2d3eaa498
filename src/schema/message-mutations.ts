/**
 * Mutations that put events into a room's timeline: sendMessage and redactEvent. Both are
 * idempotent through the client's `idempotencyKey` (see `transactionId`), so a retried mutation
 * never sends twice.
 */
import { redactEvent, sendMessageEvent } from '../matrix/room-events.ts';
import { builder } from './builder.ts';
import { facadeError } from './errors.ts';
import { requireEventId, requireRoomId } from './matrix-ids.ts';
import {
  MAX_BODY_BYTES,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_REASON_LENGTH,
  optionalReason,
  requireMaxBytes,
  roomEventPayloadFields,
  sentEventPayloadFields,
  transactionId,
} from './mutation-support.ts';

/** The `msgtype`s of `m.room.message` that are plain text (event-schemas/schema/m.room.message$m.*). */
const MessageTypeEnum = builder.enumType('MessageType', {
  description: 'The kind of a text message (`msgtype` of `m.room.message`).',
  values: {
    TEXT: { value: 'm.text', description: 'An ordinary message (`m.text`).' },
    NOTICE: {
      value: 'm.notice',
      description:
        'An automated message, e.g. from a bot (`m.notice`); bots should not reply to it.',
    },
    EMOTE: {
      value: 'm.emote',
      description: 'An action, shown as "* alice waves" (`m.emote`).',
    },
  } as const,
});

/** The only `format` the spec defines for `formatted_body`. */
const HTML_FORMAT = 'org.matrix.custom.html';

/**
 * `value` unchanged when it has something besides whitespace and fits in {@link MAX_BODY_BYTES};
 * else BAD_USER_INPUT naming `field`. Unlike `requireNonBlank` it does not trim: the text is sent
 * exactly as the user wrote it.
 */
function requireMessageText(value: string, field: string): string {
  if (value.trim() === '') {
    throw facadeError('BAD_USER_INPUT', `${field} must not be empty.`, { extensions: { field } });
  }
  return requireMaxBytes(value, field, MAX_BODY_BYTES);
}

builder.relayMutationField(
  'sendMessage',
  {
    description: 'Input of `sendMessage`.',
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room to send to (a room ID, `!…`).' }),
      body: t.string({
        required: true,
        description: `The text (at most ${MAX_BODY_BYTES} bytes), sent as written; also the fallback for clients that do not render \`formattedBody\`.`,
      }),
      msgtype: t.field({
        type: MessageTypeEnum,
        required: false,
        defaultValue: 'm.text',
        description: 'The kind of message.',
      }),
      formattedBody: t.string({
        required: false,
        description: `The same message as HTML (at most ${MAX_BODY_BYTES} bytes), sent as \`formatted_body\` with \`format: "${HTML_FORMAT}"\`.`,
      }),
      idempotencyKey: t.string({
        required: false,
        description: `Makes a retry safe: any string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters the client picks per message (a UUID, say). Sending again with the same key and the same request (room, \`body\`, \`msgtype\`, \`formattedBody\`) from the same session sends nothing and returns the first event; the same key with a different request is a new message and is sent. Without a key every call sends.`,
      }),
    }),
  },
  {
    description:
      'Sends a text message (`m.room.message` with `m.text`, `m.notice` or `m.emote`). Idempotent through `idempotencyKey`: a retry with the same key and the same message returns the first event.',
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const body = requireMessageText(input.body, 'body');
      const formattedBody =
        input.formattedBody == null
          ? null
          : requireMessageText(input.formattedBody, 'formattedBody');
      const msgtype = input.msgtype ?? 'm.text';
      const txnId = transactionId(input.idempotencyKey, {
        mutation: 'sendMessage',
        roomId,
        content: [msgtype, body, formattedBody],
      });
      const content: Record<string, unknown> = { msgtype, body };
      if (formattedBody !== null) {
        content['format'] = HTML_FORMAT;
        content['formatted_body'] = formattedBody;
      }
      const { eventId } = await sendMessageEvent(
        context.session.viewer.client,
        roomId,
        'm.room.message',
        txnId,
        content,
      );
      context.session.invalidate();
      return { roomId, eventId };
    },
  },
  {
    outputFields: (t) => sentEventPayloadFields(t, 'The message'),
  },
);

builder.relayMutationField(
  'redactEvent',
  {
    description: 'Input of `redactEvent`.',
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room of the event (a room ID, `!…`).' }),
      eventId: t.id({ required: true, description: 'The event to redact.' }),
      reason: t.string({
        required: false,
        description: `Why, at most ${MAX_REASON_LENGTH} characters: kept in the redaction event (\`reason\`), which every member can read.`,
      }),
      idempotencyKey: t.string({
        required: false,
        description:
          'Makes a retry safe, as in `sendMessage`: the same key for the same redaction (room, `eventId`, `reason`) from the same session redacts once and returns the first redaction; a different redaction under the same key is sent. Without a key every call sends a redaction.',
      }),
    }),
  },
  {
    description:
      "Redacts an event: the homeserver strips its content down to the keys the room version keeps. Idempotent through `idempotencyKey`, like `sendMessage`. `eventId` in the payload is the redaction's own event.",
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const eventId = requireEventId(String(input.eventId), 'eventId');
      const reason = optionalReason(input.reason);
      const txnId = transactionId(input.idempotencyKey, {
        mutation: 'redactEvent',
        roomId,
        content: [eventId, reason ?? null],
      });
      const redaction = await redactEvent(
        context.session.viewer.client,
        roomId,
        eventId,
        txnId,
        reason === undefined ? {} : { reason },
      );
      context.session.invalidate();
      return { roomId, eventId: redaction.eventId };
    },
  },
  { outputFields: roomEventPayloadFields },
);
