/** Room events in their camelCase form, converted once from the wire. */
import type {
  JsonObject,
  WireClientEvent,
  WireRoomEventFilter,
  WireStrippedStateEvent,
} from './wire-types.ts';

export type { JsonObject };

/** A room event as the client API returns it (`definitions/client_event.yaml`). */
export interface ClientEvent {
  eventId: string;
  /** `null` where the wire leaves it out (events inside /sync) and the caller did not supply it. */
  roomId: string | null;
  type: string;
  sender: string;
  originServerTs: number;
  /** Event content exactly as sent: its keys are the event type's own (`formatted_body`, …). */
  content: JsonObject;
  /** Present on state events only; the empty string is a valid state key. */
  stateKey: string | null;
  /** The redacted event, for `m.room.redaction` in room versions before 11 (else in content). */
  redacts: string | null;
  unsigned: EventUnsigned;
}

export interface EventUnsigned {
  age: number | null;
  prevContent: JsonObject | null;
  redactedBecause: ClientEvent | null;
  /** Only on the sender's own device's events. */
  transactionId: string | null;
}

/** State from an invite (`invite_state`): no event ID, no timestamp. */
export interface StrippedStateEvent {
  type: string;
  stateKey: string;
  sender: string;
  content: JsonObject;
}

export function toClientEvent(wire: WireClientEvent, roomId: string | null = null): ClientEvent {
  const unsigned = wire.unsigned ?? {};
  return {
    eventId: wire.event_id,
    roomId: wire.room_id ?? roomId,
    type: wire.type,
    sender: wire.sender,
    originServerTs: wire.origin_server_ts,
    content: wire.content ?? {},
    stateKey: wire.state_key ?? null,
    redacts: wire.redacts ?? null,
    unsigned: {
      age: unsigned.age ?? null,
      prevContent: unsigned.prev_content ?? null,
      redactedBecause: unsigned.redacted_because
        ? toClientEvent(unsigned.redacted_because, roomId)
        : null,
      transactionId: unsigned.transaction_id ?? null,
    },
  };
}

export function toClientEvents(
  wire: readonly WireClientEvent[] | undefined,
  roomId: string | null = null,
): ClientEvent[] {
  return (wire ?? []).map((event) => toClientEvent(event, roomId));
}

export function toStrippedStateEvent(wire: WireStrippedStateEvent): StrippedStateEvent {
  return { type: wire.type, stateKey: wire.state_key, sender: wire.sender, content: wire.content };
}

/** `definitions/room_event_filter.yaml`, camelCase. */
export interface RoomEventFilter {
  limit?: number;
  types?: string[];
  notTypes?: string[];
  senders?: string[];
  notSenders?: string[];
  rooms?: string[];
  notRooms?: string[];
  containsUrl?: boolean;
  lazyLoadMembers?: boolean;
  includeRedundantMembers?: boolean;
  unreadThreadNotifications?: boolean;
}

export function toWireRoomEventFilter(filter: RoomEventFilter): WireRoomEventFilter {
  return dropUndefined({
    limit: filter.limit,
    types: filter.types,
    not_types: filter.notTypes,
    senders: filter.senders,
    not_senders: filter.notSenders,
    rooms: filter.rooms,
    not_rooms: filter.notRooms,
    contains_url: filter.containsUrl,
    lazy_load_members: filter.lazyLoadMembers,
    include_redundant_members: filter.includeRedundantMembers,
    unread_thread_notifications: filter.unreadThreadNotifications,
  });
}

/** Leaves out the keys whose value is `undefined`, so the wire body has no `null`s we did not mean. */
export function dropUndefined<T extends object>(
  value: {
    [K in keyof T]: T[K] | undefined;
  },
): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}
