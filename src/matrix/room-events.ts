/**
 * The room timeline: paging, context, single events, sending and redacting.
 * (`message_pagination.yaml`, `event_context.yaml`, `rooms.yaml`, `room_send.yaml`,
 * `redaction.yaml`)
 */
import {
  type ClientEvent,
  dropUndefined,
  type JsonObject,
  type RoomEventFilter,
  toClientEvent,
  toClientEvents,
  toWireRoomEventFilter,
} from './events.ts';
import type { CallOptions, MatrixClient } from './matrix-client.ts';
import { clientPath } from './paths.ts';
import type {
  WireClientEvent,
  WireEventContextResponse,
  WireMessagesResponse,
} from './wire-types.ts';

export interface MessagesOptions extends CallOptions {
  /**
   * Where to start: a token from an earlier page or from /sync. Without it the page starts at
   * the live end (`dir: 'b'`) or at the beginning of visible history (`dir: 'f'`).
   */
  from?: string;
  /** Stop at this token. */
  to?: string;
  /** `b` walks back in time, `f` forward. */
  dir: 'b' | 'f';
  /** At most this many events (the homeserver may cap it). */
  limit?: number;
  filter?: RoomEventFilter;
}

export interface MessagesPage {
  /** The token of this page's starting edge. */
  start: string;
  /**
   * The token to continue from; `null` when there is nothing more in that direction (Synapse then
   * also answers an empty `chunk`).
   */
  end: string | null;
  /** Events in the order of `dir`: newest first for `b`. */
  chunk: ClientEvent[];
  /** State relevant to the chunk (member events when lazy-loading members). */
  state: ClientEvent[];
}

export async function getMessages(
  client: MatrixClient,
  roomId: string,
  options: MessagesOptions,
): Promise<MessagesPage> {
  const body = await client.send<WireMessagesResponse>(
    {
      method: 'GET',
      path: clientPath`/rooms/${roomId}/messages`,
      query: {
        from: options.from,
        to: options.to,
        dir: options.dir,
        limit: options.limit,
        filter: options.filter ? JSON.stringify(toWireRoomEventFilter(options.filter)) : undefined,
      },
    },
    options,
  );
  return {
    start: body.start,
    end: body.end ?? null,
    chunk: toClientEvents(body.chunk, roomId),
    state: toClientEvents(body.state, roomId),
  };
}

export interface EventContextOptions extends CallOptions {
  /** How many events in all to return around the event (split before and after). */
  limit?: number;
  filter?: RoomEventFilter;
}

export interface EventContext {
  event: ClientEvent | null;
  /** Newest first, as the wire has it. */
  eventsBefore: ClientEvent[];
  /** Oldest first. */
  eventsAfter: ClientEvent[];
  /** Token to page back from the oldest of `eventsBefore`. */
  start: string | null;
  /** Token to page forward from the newest of `eventsAfter`. */
  end: string | null;
  state: ClientEvent[];
}

export async function getEventContext(
  client: MatrixClient,
  roomId: string,
  eventId: string,
  options: EventContextOptions = {},
): Promise<EventContext> {
  const body = await client.send<WireEventContextResponse>(
    {
      method: 'GET',
      path: clientPath`/rooms/${roomId}/context/${eventId}`,
      query: {
        limit: options.limit,
        filter: options.filter ? JSON.stringify(toWireRoomEventFilter(options.filter)) : undefined,
      },
    },
    options,
  );
  return {
    event: body.event ? toClientEvent(body.event, roomId) : null,
    eventsBefore: toClientEvents(body.events_before, roomId),
    eventsAfter: toClientEvents(body.events_after, roomId),
    start: body.start ?? null,
    end: body.end ?? null,
    state: toClientEvents(body.state, roomId),
  };
}

/** One event by ID; 404 `M_NOT_FOUND` when it does not exist or the caller may not see it. */
export async function getEvent(
  client: MatrixClient,
  roomId: string,
  eventId: string,
  options?: CallOptions,
): Promise<ClientEvent> {
  const event = await client.send<WireClientEvent>(
    { method: 'GET', path: clientPath`/rooms/${roomId}/event/${eventId}` },
    options,
  );
  return toClientEvent(event, roomId);
}

/**
 * Sends a message event. The transaction ID makes it idempotent: the homeserver answers a repeat
 * with the first event's ID, so a retried call never sends twice.
 */
export async function sendMessageEvent(
  client: MatrixClient,
  roomId: string,
  type: string,
  txnId: string,
  content: JsonObject,
  options?: CallOptions,
): Promise<{ eventId: string }> {
  const body = await client.send<{ event_id: string }>(
    {
      method: 'PUT',
      path: clientPath`/rooms/${roomId}/send/${type}/${txnId}`,
      body: content,
    },
    options,
  );
  return { eventId: body.event_id };
}

export interface RedactOptions extends CallOptions {
  reason?: string;
}

/** Redacts an event; idempotent through its transaction ID like sending. */
export async function redactEvent(
  client: MatrixClient,
  roomId: string,
  eventId: string,
  txnId: string,
  options: RedactOptions = {},
): Promise<{ eventId: string }> {
  const body = await client.send<{ event_id: string }>(
    {
      method: 'PUT',
      path: clientPath`/rooms/${roomId}/redact/${eventId}/${txnId}`,
      body: dropUndefined({ reason: options.reason }),
    },
    options,
  );
  return { eventId: body.event_id };
}
