/**
 * The viewer's room list read from one Simplified Sliding Sync (MSC4186) snapshot: what to ask
 * for, what the answer means, and the pages of it. Fetching is the caller's
 * (src/matrix/sliding-sync.ts); this module only plans the request and reads the response.
 *
 * Why the request asks for the whole list rather than a window the size of the page: the list is
 * ordered here by `bump_stamp` (the newest message-like event, which the MSC gives clients to sort
 * by), but Synapse 1.160 cuts its `ranges` from a list sorted by the newest event *of any kind*
 * (`SlidingSyncRoomLists.sort_rooms`), and leaves even that unsorted when the range covers the
 * whole list. Both orders agree while rooms last changed by a message; they part as soon as a
 * rename or a membership change is the newest event (a display name change writes one into every
 * room of the user), and a window of the top N by the server's order then misses rooms that are
 * among the top N by `bump_stamp`, which no cursor could bring back. Only the whole list is exact.
 * The cost: every page reads every room's `required_state` (timeline 0, no members), which still
 * measured faster than the filtered `/sync` it replaces (50 rooms: ≈ 70 ms against 88–118 ms; a
 * window of 21 would be ≈ 35 ms). With a server that sorts its ranges by `bump_stamp`, the window
 * can shrink to the page ({@link LIST_RANGE_END} is the one place).
 */
import type { ClientEvent } from '../matrix/events.ts';
import type {
  SlidingSyncList,
  SlidingSyncRequest,
  SlidingSyncResponse,
  SlidingSyncRoom,
} from '../matrix/sliding-sync.ts';
import { membershipIn } from './membership.ts';
import type { ListedMembership, RoomListing } from './room-list.ts';
import { StateIndex } from './state-index.ts';

/**
 * The memberships a sliding sync lists exactly. Rooms the viewer left of their own accord are not
 * in it (only kicks and bans are, and those only as "left" rooms the `/sync` plan lists better),
 * so `leave` stays on the `/sync` plan.
 */
export type SlidingMembership = Extract<ListedMembership, 'join' | 'invite' | 'knock'>;

export function isSlidingMembership(membership: string): membership is SlidingMembership {
  return membership === 'join' || membership === 'invite' || membership === 'knock';
}

/**
 * The state types a `Room` field reads from its listing (src/schema/room.ts, through
 * `summaryStateOf`): the sliding plan asks for exactly these, where the `/sync` plan gets every
 * type but members. A field that starts reading another type from the listing must add it here.
 */
export const LISTING_STATE_TYPES = [
  'm.room.name',
  'm.room.topic',
  'm.room.avatar',
  'm.room.canonical_alias',
  'm.room.join_rules',
  'm.room.history_visibility',
  'm.room.guest_access',
  'm.room.create',
  'm.room.encryption',
  'm.room.power_levels',
] as const;

/** The list of rooms the viewer is in, knocks on, was kicked or banned from. */
export const ROOMS_LIST = 'rooms';
/** The list of rooms the viewer is invited to (a filter, so they need no membership lookup). */
export const INVITES_LIST = 'invites';

/**
 * The last index asked for: the whole list for any account but a giant one. A list longer than
 * this comes back incomplete, and the caller serves it with `/sync` instead.
 */
export const LIST_RANGE_END = 9_999;

/**
 * The most timeline events a listed room may bring (a page of `messages(last: 100)` and one more
 * to know whether older events exist).
 */
export const MAX_LIST_TIMELINE = 101;

/** What a room list request asks of each room beyond its place in the list. */
export interface SlidingListOptions {
  /**
   * How many of each joined room's newest events to bring (capped at {@link MAX_LIST_TIMELINE}).
   * @default 0
   */
  timelineLimit?: number;
  /**
   * The state types to bring, of {@link LISTING_STATE_TYPES} (the viewer's own member event
   * always comes too).
   * @default all of them
   */
  stateTypes?: readonly string[];
  /**
   * Whether to bring each joined room's member list: every member event, the power levels and
   * the create event. Reading the answer then needs the viewer's user ID (its own member event
   * is one of many).
   * @default false
   */
  members?: boolean;
  /**
   * Whether to bring the viewer's tags on each listed room (the account data extension, MSC3959,
   * over both lists: every room account data event of theirs comes along, and their global
   * account data, which nobody reads here).
   * @default false
   */
  tags?: boolean;
}

/** The state a member list reads, beyond the member events themselves. */
const MEMBER_LIST_STATE_TYPES = ['m.room.power_levels', 'm.room.create'];

/**
 * The request: both lists whole (see the module comment), each room's `stateTypes` and the
 * viewer's own member event (`$ME`: it says joined, kicked or banned). Member counts and `is_dm`
 * come with every room. No timeline (the order comes from `bump_stamp`) unless `timelineLimit`
 * asks for each joined room's newest events; invites have none to give.
 */
export function slidingRoomListRequest(options: SlidingListOptions = {}): SlidingSyncRequest {
  const timelineLimit = Math.min(Math.max(options.timelineLimit ?? 0, 0), MAX_LIST_TIMELINE);
  const stateTypes = options.stateTypes ?? LISTING_STATE_TYPES;
  const list = (isInvite: boolean): SlidingSyncList => {
    const members = options.members === true && !isInvite;
    const types = members ? new Set([...stateTypes, ...MEMBER_LIST_STATE_TYPES]) : stateTypes;
    return {
      ranges: [[0, LIST_RANGE_END]],
      requiredState: [
        ...[...types].map((type): [string, string] => [type, '']),
        ['m.room.member', members ? '*' : '$ME'],
      ],
      timelineLimit: isInvite ? 0 : timelineLimit,
      filters: { isInvite },
    };
  };
  return {
    lists: { [ROOMS_LIST]: list(false), [INVITES_LIST]: list(true) },
    ...(options.tags === true
      ? { extensions: { accountData: { lists: [ROOMS_LIST, INVITES_LIST], rooms: [] } } }
      : {}),
  };
}

/** Whether a list fetched with `fetched` holds everything a list with `wanted` would. */
export function listCovers(fetched: SlidingListOptions, wanted: SlidingListOptions): boolean {
  const types = new Set(fetched.stateTypes ?? LISTING_STATE_TYPES);
  return (
    (fetched.timelineLimit ?? 0) >= (wanted.timelineLimit ?? 0) &&
    (fetched.members === true || wanted.members !== true) &&
    (fetched.tags === true || wanted.tags !== true) &&
    (wanted.stateTypes ?? LISTING_STATE_TYPES).every((type) => types.has(type))
  );
}

/** A listed room and where it stands in the list. */
export interface SlidingListing {
  listing: RoomListing & { membership: SlidingMembership };
  /** The room's `bump_stamp` (0 when the server gave none): larger is more recent. */
  bumpStamp: number;
}

/** Every room of a sliding sync answer, most recent first, and whether that is all of them. */
export interface SlidingRoomList {
  rooms: SlidingListing[];
  /** `false` when a list holds more rooms than the request's range reached. */
  complete: boolean;
}

/**
 * The rooms of the answer to {@link slidingRoomListRequest} made with `options`, most recent
 * first. With a `timelineLimit`, each joined room's listing keeps its newest events; with
 * `stateTypes`, each listing of a room the viewer can read says which types it holds; with
 * `members`, each joined room's listing holds its member list, and `viewerId` (required then)
 * says which member event is the viewer's own; with `tags`, each listing the answer's account
 * data covers holds the viewer's tags on the room.
 */
export function slidingRoomListFrom(
  response: SlidingSyncResponse,
  options: SlidingListOptions = {},
  viewerId: string | null = null,
): SlidingRoomList {
  const members = options.members === true;
  if (members && viewerId === null) {
    throw new Error("a list with members is read knowing the viewer's user ID");
  }
  const timelineLimit = options.timelineLimit ?? 0;
  const stateTypes =
    options.stateTypes === undefined
      ? undefined
      : new Set([...options.stateTypes, ...(members ? MEMBER_LIST_STATE_TYPES : [])]);
  const rooms: SlidingListing[] = [];
  let complete = true;
  for (const [name, invited] of [
    [ROOMS_LIST, false],
    [INVITES_LIST, true],
  ] as const) {
    const list = response.lists.get(name);
    if (list === undefined) {
      complete = false;
      continue;
    }
    complete &&= list.roomIds.length >= list.count;
    for (const roomId of new Set(list.roomIds)) {
      const room = response.rooms.get(roomId);
      const membership = room === undefined ? null : membershipOf(room, invited, viewerId);
      if (room !== undefined && membership !== null) {
        const listing = slidingListing(roomId, room, membership);
        if (timelineLimit > 0 && membership === 'join') {
          listing.recentEvents = { events: room.timeline, complete: !room.limited };
        }
        if (members && membership === 'join') {
          listing.allMembers = true;
        }
        if (stateTypes !== undefined && room.strippedState === null) {
          listing.stateTypes = stateTypes;
        }
        const tags = options.tags === true ? response.roomTags?.get(roomId) : undefined;
        if (tags !== undefined) {
          listing.tags = tags;
        }
        rooms.push({ listing, bumpStamp: room.bumpStamp ?? 0 });
      }
    }
  }
  return { rooms: rooms.sort((a, b) => byRecency(recencyKey(a), recencyKey(b))), complete };
}

/**
 * Which membership a room of the answer stands for; `null` for those this plan does not list
 * (kicked or banned: "left" rooms, from `/sync`). A room with stripped state is an invite in the
 * invites list and a knock in the other (whose filter leaves invites out); any other room says
 * through the viewer's own member event: the only one `$ME` asks for, or the one of `viewerId`
 * among all of them.
 */
function membershipOf(
  room: SlidingSyncRoom,
  invited: boolean,
  viewerId: string | null,
): SlidingMembership | null {
  if (room.strippedState !== null) {
    return invited ? 'invite' : 'knock';
  }
  const own = room.requiredState.find(
    (event) => event.type === 'm.room.member' && (viewerId === null || event.stateKey === viewerId),
  );
  return membershipIn(own?.content) === 'join' && !invited ? 'join' : null;
}

/**
 * The {@link RoomListing} the Room fields read: the listing state (for an invite or knock, what
 * the room shared), the member counts (none for an invite or knock: the viewer may not see them
 * yet), and `m.direct` as the server read it (`is_dm`).
 */
export function slidingListing<M extends SlidingMembership>(
  roomId: string,
  room: SlidingSyncRoom,
  membership: M,
): RoomListing & { membership: M } {
  const joined = membership === 'join';
  return {
    roomId,
    membership,
    state:
      room.strippedState === null
        ? StateIndex.fromEvents(room.requiredState)
        : StateIndex.fromStripped(room.strippedState),
    joinedMemberCount: joined ? room.joinedCount : null,
    invitedMemberCount: joined ? room.invitedCount : null,
    lastActivityTs: newestTs(room.timeline),
    // An invite says for itself whether it is direct (its member event's `is_direct`).
    ...(membership === 'invite' ? {} : { isDirect: room.isDm }),
    // No `unreadNotifications`: Synapse 1.160 answers `notification_count` and
    // `highlight_count` with placeholder zeros (its sliding sync handler says so), which cannot be
    // told from real ones. A list that shows the counts is served by `/sync` (schema/room-list.ts).
  };
}

/** Where a room stands in the list: what a cursor holds. */
export interface RecencyKey {
  bumpStamp: number;
  roomId: string;
}

/** Most recent first; equal stamps by room ID, so the order is total and stable. */
export function byRecency(a: RecencyKey, b: RecencyKey): number {
  if (a.bumpStamp !== b.bumpStamp) {
    return b.bumpStamp - a.bumpStamp;
  }
  return a.roomId < b.roomId ? -1 : a.roomId > b.roomId ? 1 : 0;
}

/** The key of a listed room, as its cursor holds it. */
export function recencyKey(room: SlidingListing): RecencyKey {
  return { bumpStamp: room.bumpStamp, roomId: room.listing.roomId };
}

/** One page of a keyed list, and whether items lie on either side of it. */
export interface KeyedPage<T> {
  items: T[];
  hasPreviousPage: boolean;
  hasNextPage: boolean;
}

/** Where a page starts and ends: by size from the top (or bottom), and after (or before) a key. */
export interface KeyedPageRequest {
  size: number;
  backward: boolean;
  after: RecencyKey | null;
  before: RecencyKey | null;
}

/**
 * The page of `items` (sorted by {@link byRecency} of `keyOf`): the first `size` after `after`
 * (or from the top), or with `backward`, the last `size` before `before` (or from the bottom).
 * Cursors are keys, not offsets: a page goes on right after the item its cursor names *as it
 * stood then*, so rooms that became active since (and moved to the top) neither shift the page
 * nor appear twice, and a room that is gone does not matter.
 */
export function keyedPage<T>(
  items: readonly T[],
  keyOf: (item: T) => RecencyKey,
  request: KeyedPageRequest,
): KeyedPage<T> {
  const { after, before } = request;
  const start =
    after === null ? 0 : countWhile(items, (item) => byRecency(keyOf(item), after) <= 0);
  const end =
    before === null
      ? items.length
      : countWhile(items, (item) => byRecency(keyOf(item), before) < 0);
  const from = request.backward ? Math.max(start, end - request.size) : start;
  const to = request.backward ? end : Math.min(end, start + request.size);
  return {
    items: items.slice(from, to),
    hasPreviousPage: from > 0,
    hasNextPage: to < items.length,
  };
}

/** How many leading items of the sorted `items` satisfy `test` (a binary search would do too). */
function countWhile<T>(items: readonly T[], test: (item: T) => boolean): number {
  let count = 0;
  while (count < items.length && test(items[count] as T)) {
    count++;
  }
  return count;
}

function newestTs(events: readonly ClientEvent[]): number {
  return events.reduce((newest, event) => Math.max(newest, event.originServerTs), 0);
}
