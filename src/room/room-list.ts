/**
 * The viewer's room list, and the full state of several rooms, each read from one snapshot
 * `/sync` (client-server/sync.yaml): which parts of the response to ask for, and what they mean.
 * Fetching is the caller's; this module only plans the filter and reads the response.
 */
import type { ClientEvent, RoomEventFilter, StrippedStateEvent } from '../matrix/events.ts';
import type { MembershipState } from '../matrix/room-state.ts';
import type { RoomTag } from '../matrix/sliding-sync.ts';
import type { SyncFilter, SyncResponse, UnreadNotifications } from '../matrix/sync.ts';
import { directMapFrom } from './direct-rooms.ts';
import { StateIndex } from './state-index.ts';

/** The memberships a room list holds: a banned room comes back among the rooms left. */
export type ListedMembership = Exclude<MembershipState, 'ban'>;

/** A room as the viewer's room list (one /sync, or one sliding sync) shows it. */
export interface RoomListing {
  roomId: string;
  membership: ListedMembership;
  /**
   * The state the Room fields read: from `/sync`, every state type except `m.room.member`, which
   * the list sync lazy-loads; from sliding sync, the types of `LISTING_STATE_TYPES`
   * (sliding-room-list.ts) and the viewer's own member event. For an invite or a knock: the
   * stripped state the room shared.
   */
  state: StateIndex;
  joinedMemberCount: number | null;
  invitedMemberCount: number | null;
  /** When the newest event the list saw was sent (0 when unknown), for ordering by activity. */
  lastActivityTs: number;
  /**
   * The state types `state` holds when the list asked for some only (sliding sync asks for those
   * the query reads); absent: every type the list gives (`/sync`: all but `m.room.member`; an
   * invite or knock: what the room shared, all there is to see).
   */
  stateTypes?: ReadonlySet<string>;
  /**
   * Whether `state` holds every member event of the room, with the power levels and create event
   * that rank them: the member list, without another call (a sliding sync asked for it).
   */
  allMembers?: boolean;
  /**
   * The room's newest events as the list fetched them (oldest first), when it was asked for
   * them: enough to answer `messages(last: N)` without another call.
   */
  recentEvents?: RecentEvents;
  /**
   * Whether the viewer's `m.direct` lists the room, when the list said so (sliding sync's
   * `is_dm`); absent when it did not (the caller reads `m.direct` itself).
   */
  isDirect?: boolean;
  /**
   * The viewer's unread counts in the room, when the list said (a joined room on the `/sync` plan:
   * `unread_notifications`; Synapse 1.160's sliding sync answers placeholder zeros, so its
   * listings leave this out).
   */
  unreadNotifications?: UnreadNotifications;
  /**
   * The viewer's tags on the room (`m.tag` room account data), sorted by name, when the list
   * brought them: a joined room on the `/sync` plan, any room a sliding sync asked with `tags`
   * covered. Absent: unknown (the caller asks `GET …/tags`), not "none".
   */
  tags?: RoomTag[];
}

/** A room's newest events, and whether they are all of its history the viewer may see. */
export interface RecentEvents {
  /** Oldest first. */
  events: ClientEvent[];
  /** No older event exists for the viewer (the list's timeline was not `limited`). */
  complete: boolean;
}

/** Every room of the viewer's, with their direct-message map, from one snapshot sync. */
export interface RoomList {
  rooms: RoomListing[];
  /** The viewer's `m.direct` account data: user ID → direct-message room IDs. */
  direct: Map<string, string[]>;
}

/** The parts of a snapshot `/sync` filter that say what to fetch: rooms and account data. */
export interface SnapshotFilter {
  room: NonNullable<SyncFilter['room']>;
  accountData: RoomEventFilter;
}

/**
 * The room list's filter: the newest event per room (to order by activity), every state type
 * with members lazy-loaded (so the summary's member counts come along), each joined room's
 * `m.tag` (only tagged rooms have one: a few bytes for the list's `tags` and its tag filter), and
 * `m.direct`. Rooms left only on request: there can be many, and most lists do not show them.
 */
export function roomListFilter(includeLeave: boolean): SnapshotFilter {
  return {
    room: {
      includeLeave,
      timeline: { limit: 1 },
      state: { lazyLoadMembers: true },
      accountData: { types: ['m.tag'] },
    },
    accountData: { types: ['m.direct'] },
  };
}

/**
 * The filter for the full state of `roomIds`: an initial sync's `state` block holds a joined or
 * left room's complete state up to its timeline, members included when not lazy-loaded.
 */
export function fullStateFilter(roomIds: readonly string[]): SnapshotFilter {
  return {
    room: { rooms: [...roomIds], includeLeave: true, timeline: { limit: 1 } },
    accountData: { notTypes: ['*'] },
  };
}

/**
 * The room list from the response to a {@link roomListFilter} sync, with each joined room's tags
 * from `tags` (src/matrix/tags.ts `joinedRoomTags` reads them from the response).
 */
export function roomListFrom(
  response: SyncResponse,
  tags: ReadonlyMap<string, RoomTag[]> = new Map(),
): RoomList {
  const rooms: RoomListing[] = [];
  for (const [roomId, room] of response.join) {
    const listing: RoomListing = {
      roomId,
      membership: 'join',
      state: stateOf(room),
      joinedMemberCount: room.summary.joinedMemberCount,
      invitedMemberCount: room.summary.invitedMemberCount,
      lastActivityTs: newestTs([...room.timeline.events, ...room.state]),
      unreadNotifications: room.unreadNotifications,
    };
    const roomTags = tags.get(roomId);
    if (roomTags !== undefined) {
      listing.tags = roomTags;
    }
    rooms.push(listing);
  }
  for (const [roomId, room] of response.leave) {
    rooms.push({
      roomId,
      membership: 'leave',
      state: stateOf(room),
      joinedMemberCount: null,
      invitedMemberCount: null,
      lastActivityTs: newestTs([...room.timeline.events, ...room.state]),
    });
  }
  for (const [roomId, room] of response.invite) {
    rooms.push(strippedListing(roomId, 'invite', room.inviteState));
  }
  for (const [roomId, room] of response.knock) {
    rooms.push(strippedListing(roomId, 'knock', room.knockState));
  }
  const direct = response.accountData.find((event) => event.type === 'm.direct');
  return { rooms, direct: directMapFrom(direct?.content ?? null) };
}

/**
 * The full state of each joined or left room in the response to a {@link fullStateFilter} sync.
 * Invites and knocks have none to give: the viewer may not read their state yet.
 */
export function fullStatesFrom(response: SyncResponse): Map<string, StateIndex> {
  const states = new Map<string, StateIndex>();
  for (const [roomId, room] of [...response.join, ...response.leave]) {
    states.set(roomId, stateOf(room));
  }
  return states;
}

/** The rooms in `membership`, most recently active first, then by room ID. */
export function byActivity(
  rooms: readonly RoomListing[],
  membership: MembershipState,
): RoomListing[] {
  return rooms
    .filter((room) => room.membership === membership)
    .sort((a, b) => b.lastActivityTs - a.lastActivityTs || a.roomId.localeCompare(b.roomId));
}

/** The listing of an invite known only from its stripped state (a sync's `invite_state`). */
export function inviteListing(
  roomId: string,
  strippedState: readonly StrippedStateEvent[],
): RoomListing {
  return strippedListing(roomId, 'invite', strippedState);
}

/** An invite or knock: no member counts the viewer may see, no timeline to date it by. */
function strippedListing(
  roomId: string,
  membership: 'invite' | 'knock',
  strippedState: readonly StrippedStateEvent[],
): RoomListing {
  return {
    roomId,
    membership,
    state: StateIndex.fromStripped(strippedState),
    joinedMemberCount: null,
    invitedMemberCount: null,
    lastActivityTs: 0,
  };
}

/** A joined or left room's state: timeline state events are newer than the `state` block. */
function stateOf(room: { state: ClientEvent[]; timeline: { events: ClientEvent[] } }): StateIndex {
  return StateIndex.fromEvents([...room.state, ...room.timeline.events]);
}

function newestTs(events: readonly ClientEvent[]): number {
  return events.reduce((newest, event) => Math.max(newest, event.originServerTs), 0);
}
