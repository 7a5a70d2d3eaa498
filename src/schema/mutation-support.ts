/**
 * What every mutation shares: input limits checked before any upstream call, read-your-writes,
 * and the payload that hands the affected room back to the client.
 */
import { randomUUID } from 'node:crypto';
import type { builder } from './builder.ts';
import { facadeError } from './errors.ts';
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

/**
 * A transaction ID for a send or redaction: the client's own (`txnId`, else `clientMutationId`),
 * so that a retried mutation is the same transaction and the homeserver sends once; a fresh one
 * when the client gave neither.
 */
export function transactionId(input: {
  txnId?: string | null | undefined;
  clientMutationId?: string | number | null | undefined;
}): string {
  const given =
    input.txnId ?? (input.clientMutationId == null ? null : String(input.clientMutationId));
  if (given === null) {
    return `facade-${randomUUID()}`;
  }
  if (given === '' || given.length > 200) {
    throw facadeError('BAD_USER_INPUT', 'txnId must be 1 to 200 characters.', {
      extensions: { field: 'txnId' },
    });
  }
  return given;
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
