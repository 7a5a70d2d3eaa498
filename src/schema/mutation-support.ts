/**
 * What every mutation shares: input limits checked before any upstream call, the transaction IDs
 * of sends, the rule for clearing a value, and the payload that hands the affected room back.
 */
import { createHash, randomUUID } from 'node:crypto';
import { eventKey } from '../session/request-loaders.ts';
import type { builder } from './builder.ts';
import { facadeError } from './errors.ts';
import { RoomEventRef } from './event.ts';
import { RoomRef } from './room.ts';

/** The longest reason (kick, ban, leave, redaction…) the facade forwards, in characters. */
export const MAX_REASON_LENGTH = 1000;
/**
 * The most bytes a message body (and, separately, its HTML form) may take. Matrix caps a whole
 * event at 65,536 bytes of canonical JSON; two fields of this size still fit with the envelope.
 */
export const MAX_BODY_BYTES = 30_000;
/** `m.room.name`: "MUST NOT exceed 255 bytes" (event-schemas/schema/m.room.name.yaml). */
export const MAX_ROOM_NAME_BYTES = 255;

/** `value` when it fits in `maxBytes` of UTF-8, else BAD_USER_INPUT naming `field`. */
export function requireMaxBytes<T extends string | null | undefined>(
  value: T,
  field: string,
  maxBytes: number,
): T {
  if (typeof value === 'string' && Buffer.byteLength(value, 'utf8') > maxBytes) {
    throw facadeError('BAD_USER_INPUT', `${field} must be at most ${maxBytes} bytes.`, {
      extensions: { field },
    });
  }
  return value;
}

/** A reason of at most {@link MAX_REASON_LENGTH} characters (or none). */
export function optionalReason(
  value: string | null | undefined,
  field = 'reason',
): string | undefined {
  if (value === null || value === undefined) {
    return undefined;
  }
  if (value.length > MAX_REASON_LENGTH) {
    throw facadeError(
      'BAD_USER_INPUT',
      `${field} must be at most ${MAX_REASON_LENGTH} characters.`,
      { extensions: { field } },
    );
  }
  return value;
}

/** A non-empty string, trimmed; BAD_USER_INPUT naming `field` when blank. */
export function requireNonBlank(value: string, field: string): string {
  const trimmed = value.trim();
  if (trimmed === '') {
    throw facadeError('BAD_USER_INPUT', `${field} must not be empty.`, { extensions: { field } });
  }
  return trimmed;
}

/** An `mxc://server/media-id` URI (the only avatar URLs Matrix accepts). */
export function requireMxcUri(value: string, field: string): string {
  if (!/^mxc:\/\/[^/\s]+\/[A-Za-z0-9_-]+$/.test(value)) {
    throw facadeError(
      'BAD_USER_INPUT',
      `${field} must be an mxc:// URI, e.g. mxc://example.org/abc123.`,
      {
        extensions: { field },
      },
    );
  }
  return value;
}

/** The longest `idempotencyKey` a client may give, in characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

/** A request that sends one timeline event through a transaction ID. */
export interface TransactionRequest {
  /** The mutation's name: the same key never joins two kinds of request. */
  mutation: string;
  roomId: string;
  /** What the request sends, in a fixed order (e.g. msgtype, body, HTML body). */
  content: readonly (string | null)[];
}

/**
 * The transaction ID of a send or redaction. With the client's `idempotencyKey`, a hash of the
 * key and the whole request: a retry (same key, same request) is the same transaction, so the
 * homeserver returns the first event instead of sending again, while the same key for a different
 * request (say, a client whose counter restarted after a reload) is a new transaction and is sent.
 * The homeserver scopes transaction IDs to the access token, so sessions never share one. Without
 * a key, a fresh random ID: each call sends. `clientMutationId` plays no part (Relay echoes it only).
 */
export function transactionId(
  idempotencyKey: string | null | undefined,
  request: TransactionRequest,
): string {
  if (idempotencyKey == null) {
    return `facade-${randomUUID()}`;
  }
  if (idempotencyKey === '' || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw facadeError(
      'BAD_USER_INPUT',
      `idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters.`,
      { extensions: { field: 'idempotencyKey' } },
    );
  }
  // The JSON of an array of strings is unambiguous: two different requests never hash the same text.
  const digest = createHash('sha256')
    .update(JSON.stringify([idempotencyKey, request.mutation, request.roomId, request.content]))
    .digest('base64url');
  return `facade-key-${digest}`;
}

/**
 * The one clearing rule of the `setRoom…` mutations: `null`, an omitted value or a blank string
 * clears; anything else is the value to set.
 */
export function valueOrClear(value: string | null | undefined): string | null {
  return value == null || value.trim() === '' ? null : value;
}

/** What a room mutation returns: the room it changed. */
export interface RoomPayloadShape {
  roomId: string;
}

/** What a mutation that sent one event returns: the room, and the event's ID. */
export interface RoomEventPayloadShape extends RoomPayloadShape {
  eventId: string;
}

/** The schema's types, as Pothos tracks them. */
type FacadeTypes =
  typeof builder extends PothosSchemaTypes.SchemaBuilder<infer Types> ? Types : never;

function roomField<Shape extends RoomPayloadShape>(
  t: PothosSchemaTypes.ObjectFieldBuilder<FacadeTypes, Shape>,
) {
  return t.field({
    type: RoomRef,
    description: 'The room as it is after the mutation.',
    resolve: (payload) => ({ roomId: payload.roomId, listing: null }),
  });
}

/** Payload fields of a room mutation: `room`. */
export function roomPayloadFields(
  t: PothosSchemaTypes.ObjectFieldBuilder<FacadeTypes, RoomPayloadShape>,
) {
  return { room: roomField(t) };
}

/** Payload fields of a room mutation that sent an event: `room` and `eventId`. */
export function roomEventPayloadFields(
  t: PothosSchemaTypes.ObjectFieldBuilder<FacadeTypes, RoomEventPayloadShape>,
) {
  return {
    room: roomField(t),
    eventId: t.exposeID('eventId', { description: 'The event the mutation sent.' }),
  };
}

/**
 * The payload of a mutation that sent an event: {@link roomEventPayloadFields} and the event
 * itself as the homeserver now has it, `what` naming it in the description.
 */
export function sentEventPayloadFields(
  t: PothosSchemaTypes.ObjectFieldBuilder<FacadeTypes, RoomEventPayloadShape>,
  what: string,
) {
  return {
    ...roomEventPayloadFields(t),
    event: t.field({
      type: RoomEventRef,
      description: `${what} as the homeserver now has it (one more upstream call).`,
      resolve: (payload: RoomEventPayloadShape, _args, context) =>
        context.session.loaders.event.load(eventKey(payload.roomId, payload.eventId)),
    }),
  };
}
