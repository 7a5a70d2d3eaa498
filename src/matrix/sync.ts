/**
 * One `/sync` request (`sync.yaml`). The long-poll loop built on it lives in `src/sync/`.
 */
import { randomUUID } from 'node:crypto';
import { malformedResponse } from './errors.ts';
import {
  type ClientEvent,
  dropUndefined,
  type JsonObject,
  type RoomEventFilter,
  type StrippedStateEvent,
  toClientEvents,
  toStrippedStateEvent,
  toWireRoomEventFilter,
} from './events.ts';
import type { CallOptions, MatrixClient } from './matrix-client.ts';
import { clientPath } from './paths.ts';
import type { WireSyncFilter, WireSyncResponse, WireTimeline } from './wire-types.ts';

/** `definitions/sync_filter.yaml`, camelCase. */
export interface SyncFilter {
  eventFields?: string[];
  presence?: RoomEventFilter;
  accountData?: RoomEventFilter;
  room?: {
    rooms?: string[];
    notRooms?: string[];
    includeLeave?: boolean;
    timeline?: RoomEventFilter;
    state?: RoomEventFilter;
    ephemeral?: RoomEventFilter;
    accountData?: RoomEventFilter;
  };
}

export interface SyncOptions extends CallOptions {
  /** A filter ID from `POST /user/{userId}/filter`, or a filter given inline. */
  filter?: string | SyncFilter;
  /** The `nextBatch` of the previous sync; absent for an initial sync. */
  since?: string;
  /**
   * How long the homeserver may hold the request open waiting for news (long-polling).
   * @default 0
   */
  timeoutMs?: number;
  fullState?: boolean;
  setPresence?: 'offline' | 'online' | 'unavailable';
  /**
   * Never answer from the homeserver's response cache. Synapse keeps the response to a non-empty
   * initial sync for `sync_response_cache_duration` (2 minutes by default), keyed by the filter
   * string among others, and answers identical requests from it: a room list built from such a
   * sync could miss what happened in the last two minutes. With an inline filter, a unique key
   * under our own namespace makes each request its own (filters accept unknown fields for
   * forward compatibility: spec and Synapse's filter schema alike).
   * @default false
   */
  fresh?: boolean;
}

/** The namespaced filter key that makes a {@link SyncOptions.fresh} request unique. */
export const FRESH_FILTER_KEY = 'org.matrix_graphql_facade.request';

/**
 * How much longer than the server-side `timeout` we wait for the answer before calling the
 * connection dead. A long-poll that wedges (a proxy that silently drops it, a server under load)
 * would otherwise hang until the generic headers timeout; a long-poll legitimately runs for the
 * whole server timeout, so the local limit must exceed it by a margin.
 */
export const SYNC_TIMEOUT_BUFFER_MS = 30_000;

export interface Timeline {
  events: ClientEvent[];
  /** More events happened than the response holds; page back from `prevBatch` for the rest. */
  limited: boolean;
  prevBatch: string | null;
}

export interface JoinedRoomSync {
  summary: {
    heroes: string[] | null;
    joinedMemberCount: number | null;
    invitedMemberCount: number | null;
  };
  state: ClientEvent[];
  timeline: Timeline;
  ephemeral: { type: string; content: JsonObject }[];
  accountData: { type: string; content: JsonObject }[];
  /** The room's unread counts (`unread_notifications`), every one at 0 when the server gave none. */
  unreadNotifications: UnreadNotifications;
}

/** How many unread events would notify the user, and how many of those highlight. */
export interface UnreadNotifications {
  notificationCount: number;
  highlightCount: number;
}

export interface LeftRoomSync {
  state: ClientEvent[];
  timeline: Timeline;
}

export interface SyncResponse {
  nextBatch: string;
  join: Map<string, JoinedRoomSync>;
  invite: Map<string, { inviteState: StrippedStateEvent[] }>;
  knock: Map<string, { knockState: StrippedStateEvent[] }>;
  leave: Map<string, LeftRoomSync>;
  accountData: { type: string; content: JsonObject }[];
}

export async function sync(client: MatrixClient, options: SyncOptions = {}): Promise<SyncResponse> {
  const timeoutMs = options.timeoutMs ?? 0;
  const body = await client.send<WireSyncResponse>(
    {
      method: 'GET',
      path: clientPath`/sync`,
      query: {
        filter: filterParameter(options),
        since: options.since,
        timeout: timeoutMs,
        full_state: options.fullState,
        set_presence: options.setPresence,
      },
      headersTimeoutMs: timeoutMs + SYNC_TIMEOUT_BUFFER_MS,
      // The total timeout counts from the end of the homeserver's wait.
      holdMs: timeoutMs,
    },
    options,
  );
  return toSyncResponse(body);
}

function filterParameter(options: SyncOptions): string | undefined {
  if (typeof options.filter !== 'object') {
    if (options.fresh) {
      throw new TypeError('a fresh sync needs an inline filter, not a filter ID');
    }
    return options.filter;
  }
  const wire = toWireSyncFilter(options.filter);
  return JSON.stringify(options.fresh ? { ...wire, [FRESH_FILTER_KEY]: randomUUID() } : wire);
}

export function toWireSyncFilter(filter: SyncFilter): WireSyncFilter {
  const convert = (part: RoomEventFilter | undefined) =>
    part === undefined ? undefined : toWireRoomEventFilter(part);
  const room = filter.room;
  return dropUndefined<WireSyncFilter>({
    event_fields: filter.eventFields,
    event_format: undefined,
    presence: convert(filter.presence),
    account_data: convert(filter.accountData),
    room:
      room === undefined
        ? undefined
        : dropUndefined({
            rooms: room.rooms,
            not_rooms: room.notRooms,
            include_leave: room.includeLeave,
            timeline: convert(room.timeline),
            state: convert(room.state),
            ephemeral: convert(room.ephemeral),
            account_data: convert(room.accountData),
          }),
  });
}

/**
 * Events in /sync carry no `room_id`; each gets the ID of the room it is listed under. A response
 * without a string `next_batch` (`{}` from a misbehaving proxy, say) fails as malformed: read as
 * valid, it would send the loop back for the same answer again and again.
 */
export function toSyncResponse(wire: WireSyncResponse): SyncResponse {
  if (typeof wire.next_batch !== 'string') {
    throw malformedResponse(
      { method: 'GET', path: clientPath`/sync` },
      'next_batch is not a string',
    );
  }
  const rooms = wire.rooms ?? {};
  const timeline = (part: WireTimeline | undefined, roomId: string): Timeline => ({
    events: toClientEvents(part?.events, roomId),
    limited: part?.limited ?? false,
    prevBatch: part?.prev_batch ?? null,
  });
  return {
    nextBatch: wire.next_batch,
    join: new Map(
      Object.entries(rooms.join ?? {}).map(([roomId, room]) => [
        roomId,
        {
          summary: {
            heroes: room.summary?.['m.heroes'] ?? null,
            joinedMemberCount: room.summary?.['m.joined_member_count'] ?? null,
            invitedMemberCount: room.summary?.['m.invited_member_count'] ?? null,
          },
          state: toClientEvents(room.state?.events, roomId),
          timeline: timeline(room.timeline, roomId),
          ephemeral: room.ephemeral?.events ?? [],
          accountData: room.account_data?.events ?? [],
          unreadNotifications: {
            notificationCount: count(room.unread_notifications?.notification_count),
            highlightCount: count(room.unread_notifications?.highlight_count),
          },
        },
      ]),
    ),
    invite: new Map(
      Object.entries(rooms.invite ?? {}).map(([roomId, room]) => [
        roomId,
        { inviteState: (room.invite_state?.events ?? []).map(toStrippedStateEvent) },
      ]),
    ),
    knock: new Map(
      Object.entries(rooms.knock ?? {}).map(([roomId, room]) => [
        roomId,
        { knockState: (room.knock_state?.events ?? []).map(toStrippedStateEvent) },
      ]),
    ),
    leave: new Map(
      Object.entries(rooms.leave ?? {}).map(([roomId, room]) => [
        roomId,
        {
          state: toClientEvents(room.state?.events, roomId),
          timeline: timeline(room.timeline, roomId),
        },
      ]),
    ),
    accountData: wire.account_data?.events ?? [],
  };
}

/** A count from the wire: a non-negative integer, else 0. */
function count(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}
