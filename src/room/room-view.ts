/**
 * One viewer's warm room view: what the room list shows, kept current from their `/sync` stream
 * the way a Matrix client keeps its store (client-server/sync.yaml), so the list can be served from
 * memory with no upstream call. First a snapshot (an initial sync made with
 * {@link VIEW_SNAPSHOT_FILTER}), then every incremental response of the same stream, in order.
 * Fetching and the stream are the caller's; this module only folds the responses in.
 *
 * What it keeps per joined room: every state event seen (members lazily: not all of them), the
 * newest timeline events, the member counts, unread counts, tags, and the two timestamps the
 * list orders by. Invites and knocks keep the stripped state the room shared. Rooms left are
 * dropped: the list of rooms left is not served warm.
 */
import type { ClientEvent, JsonObject, StrippedStateEvent } from '../matrix/events.ts';
import type { RoomTag } from '../matrix/sliding-sync.ts';
import type {
  JoinedRoomSync,
  SyncFilter,
  SyncResponse,
  UnreadNotifications,
} from '../matrix/sync.ts';
import { isJsonObject } from './content.ts';
import { directMapFrom } from './direct-rooms.ts';
import { membershipIn } from './membership.ts';
import { inviteListing, type RecentEvents, type RoomListing } from './room-list.ts';
import { byRecency, type RecencyKey } from './sliding-room-list.ts';
import { StateIndex } from './state-index.ts';

/** How many of each joined room's newest timeline events the view keeps. */
export const VIEW_TIMELINE_LIMIT = 21;

/**
 * How many event IDs per joined room {@link RoomView.hasEvent} remembers beyond the events kept:
 * a read-your-writes check asks about an event the viewer just sent, and two full long-polls
 * (50 events each) of other news in between are already unlikely.
 */
export const VIEW_SEEN_EVENT_IDS = 100;

/** Filter part that lets nothing through. */
const nothing = { notTypes: ['*'] };

/**
 * The snapshot's filter: like `roomListFilter(false)` (room-list.ts), but with each joined room's
 * newest {@link VIEW_TIMELINE_LIMIT} events, so `messages(last: N)` can be answered warm too.
 * Every member event (no lazy loading): the view then holds each joined room's member list, so
 * `members` and the member counts are answered warm too (the counts are counted, since only lazy
 * loading brings a `summary`; a room too large for the view's budget is dropped with the view).
 * `m.tag` per room, `m.direct`, and nothing ephemeral or presence: the incremental responses keep
 * all of these current. Make the request `fresh` (src/matrix/sync.ts): Synapse answers a repeated
 * initial sync from a cache up to two minutes old, and the stream would then start from a stale
 * view.
 */
export const VIEW_SNAPSHOT_FILTER: SyncFilter = Object.freeze({
  presence: nothing,
  accountData: { types: ['m.direct'] },
  room: {
    includeLeave: false,
    timeline: { limit: VIEW_TIMELINE_LIMIT },
    ephemeral: nothing,
    accountData: { types: ['m.tag'] },
  },
});

/**
 * The event types that move a room up the list: Synapse's default `bump_event_types` (its sliding
 * sync `bump_stamp`), so the warm list orders rooms as the sliding plan does. A rename, a join
 * or a reaction does not bump.
 */
const BUMP_TYPES: ReadonlySet<string> = new Set([
  'm.room.create',
  'm.room.message',
  'm.room.encrypted',
  'm.sticker',
  'm.call.invite',
  'm.poll.start',
  'm.beacon_info',
]);

export interface RoomViewOptions {
  /**
   * How many of each joined room's newest timeline events to keep.
   * @default VIEW_TIMELINE_LIMIT
   */
  timelineLimit?: number;
}

/** The memberships the view lists. */
export type ViewMembership = 'join' | 'invite' | 'knock';

/** A listed room and where it stands in the list. */
export interface ViewListing {
  listing: RoomListing;
  key: RecencyKey;
}

/** An event kept, with its JSON size counted once. */
interface Sized<T> {
  value: T;
  bytes: number;
}

/** What the view keeps of one joined room. */
interface JoinedRoom {
  /** Every state event seen, by (type, state key); the newest wins. */
  state: Map<string, Sized<ClientEvent>>;
  /** The newest timeline events, oldest first, at most the view's timeline limit. */
  timeline: Sized<ClientEvent>[];
  /** Whether {@link timeline} holds the room's whole history the viewer may see. */
  complete: boolean;
  /** Recently seen timeline event IDs, oldest first (a `Set` keeps insertion order). */
  seen: Set<string>;
  /**
   * State events the view has seen replaced, oldest first (capped like {@link seen}): a `state`
   * block that brings one back is not taken (see {@link RoomView.apply}'s note on forks).
   */
  superseded: Set<string>;
  /** `null` when the server never said and no count could be worked out. */
  joinedMemberCount: number | null;
  invitedMemberCount: number | null;
  unreadNotifications: UnreadNotifications;
  /** Absent: unknown (no `m.tag` seen for a room first met in an incremental response). */
  tags: RoomTag[] | undefined;
  tagBytes: number;
  /** When the newest bump event was sent; `null` only while the room is first read. */
  bumpTs: number | null;
  lastActivityTs: number;
  /** Built from {@link state} on demand, dropped when the state changes. */
  stateIndex: StateIndex | null;
  /** Built on demand, dropped when anything of the room changes. */
  listing: ViewListing | null;
}

/** An invite or knock: only what the room shared. */
interface StrippedRoom {
  state: StrippedStateEvent[];
  bytes: number;
  listing: ViewListing | null;
}

/** A user's rooms as their room list shows them, kept current from their `/sync` stream. */
export class RoomView {
  readonly #viewerId: string;
  readonly #timelineLimit: number;
  readonly #seenLimit: number;
  #joined = new Map<string, JoinedRoom>();
  #invites = new Map<string, StrippedRoom>();
  #knocks = new Map<string, StrippedRoom>();
  /** The rooms the viewer's `m.direct` lists. */
  #directRooms: ReadonlySet<string> = new Set();
  #directBytes = 0;
  #bytes = 0;
  #version = 0;

  constructor(viewerId: string, options: RoomViewOptions = {}) {
    this.#viewerId = viewerId;
    this.#timelineLimit = Math.max(1, options.timelineLimit ?? VIEW_TIMELINE_LIMIT);
    this.#seenLimit = Math.max(VIEW_SEEN_EVENT_IDS, this.#timelineLimit);
  }

  /** The user whose view this is. */
  get viewerId(): string {
    return this.#viewerId;
  }

  /** Roughly how many bytes the view holds: the JSON sizes of the events and data it keeps. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Increments on every {@link reset} and {@link apply}. */
  get version(): number {
    return this.#version;
  }

  /**
   * Replaces everything with `snapshot`, an initial sync made with {@link VIEW_SNAPSHOT_FILTER}.
   * What that filter asks for and the snapshot lacks is known to be absent: a joined room without
   * `m.tag` has no tags, and without `m.direct` no room is direct.
   */
  reset(snapshot: SyncResponse): void {
    this.#joined = new Map();
    this.#invites = new Map();
    this.#knocks = new Map();
    this.#bytes = 0;
    this.#directRooms = new Set();
    this.#directBytes = 0;
    this.#applyDirect(snapshot);
    for (const [roomId, room] of snapshot.join) {
      this.#joinRoom(roomId, room, true);
    }
    this.#applyStripped(snapshot);
    this.#version += 1;
  }

  /**
   * Applies the next incremental response of the stream (the long-poll filter of
   * src/sync/sync-loop.ts: the whole timeline, the state block holding the state that changed in
   * a gap, `m.tag`, and global account data). A room's memberships are read in the order that
   * lets the newest win: rooms left are dropped first, then the rooms joined, invited to and
   * knocked on each take the room out of the other two.
   */
  apply(response: SyncResponse): void {
    this.#applyDirect(response);
    for (const roomId of response.leave.keys()) {
      this.#dropJoined(roomId);
      this.#dropStripped(this.#invites, roomId);
      this.#dropStripped(this.#knocks, roomId);
    }
    for (const [roomId, room] of response.join) {
      this.#dropStripped(this.#invites, roomId);
      this.#dropStripped(this.#knocks, roomId);
      if (this.#joined.has(roomId)) {
        this.#updateRoom(roomId, room);
      } else {
        this.#joinRoom(roomId, room, false);
      }
    }
    this.#applyStripped(response);
    this.#version += 1;
  }

  /** The rooms in `membership`, most recent first (ties by room ID), each with its key. */
  /** One room's listing: a room joined, an invite or a knock; `null` for any other room. */
  room(roomId: string): RoomListing | null {
    const joined = this.#joined.get(roomId);
    if (joined !== undefined) {
      return this.#joinedListing(roomId, joined).listing;
    }
    const invite = this.#invites.get(roomId);
    if (invite !== undefined) {
      return this.#strippedListing(roomId, invite, 'invite').listing;
    }
    const knock = this.#knocks.get(roomId);
    return knock === undefined ? null : this.#strippedListing(roomId, knock, 'knock').listing;
  }

  rooms(membership: ViewMembership): ViewListing[] {
    const listings: ViewListing[] = [];
    if (membership === 'join') {
      for (const [roomId, room] of this.#joined) {
        listings.push(this.#joinedListing(roomId, room));
      }
    } else {
      const rooms = membership === 'invite' ? this.#invites : this.#knocks;
      for (const [roomId, room] of rooms) {
        listings.push(this.#strippedListing(roomId, room, membership));
      }
    }
    return listings.sort((a, b) => byRecency(a.key, b.key));
  }

  /**
   * Whether the view has seen `eventId` in the timeline of the joined room `roomId`: among the
   * events kept, or the last {@link VIEW_SEEN_EVENT_IDS} seen. `false` says "not seen", never
   * "does not exist": the event may lie in a gap the stream skipped.
   */
  hasEvent(roomId: string, eventId: string): boolean {
    const room = this.#joined.get(roomId);
    return (
      room !== undefined &&
      (room.seen.has(eventId) || room.timeline.some((kept) => kept.value.eventId === eventId))
    );
  }

  /**
   * A room the view meets joined: in the snapshot, or in an incremental response after an invite
   * or a knock (or a join from elsewhere). Its state block is then the whole state up to its
   * timeline (the spec's state "since" a point the viewer was not in the room); an incremental
   * one has no `summary` (the long-poll filter does not lazy-load), so the counts come from the
   * members it holds, which are all of them then. Its timeline is its whole history when it is
   * not `limited`, as in a snapshot: Synapse loads a newly joined room's timeline as an initial
   * sync would (`limited` when older history is visible). Tags are known only from a snapshot, whose filter asked for `m.tag`.
   */
  #joinRoom(roomId: string, sync: JoinedRoomSync, fromSnapshot: boolean): void {
    const room: JoinedRoom = {
      state: new Map(),
      timeline: [],
      complete: !sync.timeline.limited,
      seen: new Set(),
      superseded: new Set(),
      joinedMemberCount: null,
      invitedMemberCount: null,
      unreadNotifications: sync.unreadNotifications,
      tags: fromSnapshot ? [] : undefined,
      tagBytes: 0,
      bumpTs: null,
      lastActivityTs: 0,
      stateIndex: null,
      listing: null,
    };
    this.#joined.set(roomId, room);
    for (const event of sync.state) {
      this.#putState(room, event, false);
    }
    this.#appendTimeline(room, sync.timeline.events, { countMembers: false, limited: false });
    this.#noteActivity(room, sync.state);
    // No bump event among the first events met: the newest of them is the latest the bump can
    // be. Fixed from then on, so later renames and joins do not move the room up.
    room.bumpTs ??= room.lastActivityTs;
    // Every member event is held (the snapshot's state is not lazy-loaded, nor is a new room's).
    room.joinedMemberCount = this.#countMembers(room, 'join');
    room.invitedMemberCount = this.#countMembers(room, 'invite');
    this.#applyRoomExtras(room, sync);
  }

  /** A joined room's next news: the state of a gap first, then the timeline in order. */
  #updateRoom(roomId: string, sync: JoinedRoomSync): void {
    const room = this.#joined.get(roomId);
    if (room === undefined) {
      return;
    }
    // A `state` block is the state at the start of its timeline, which is not always newer than
    // what the view holds: when a rename and another user's message are sent at once, they can
    // land as siblings in the room's graph, and the next timeline, starting at the message, then
    // states the name from before the rename (Synapse 1.160, found by `npm run bench:soak`; MSC4222
    // fixes it with the state *after* the timeline, which Synapse offers only experimentally).
    // The room's current state is the renamed one, so an event the view already saw replaced is
    // not taken back from a state block; anything the view has not seen (a gap's changes) is.
    for (const event of sync.state) {
      if (!room.superseded.has(event.eventId)) {
        this.#putState(room, event, true);
      }
    }
    if (sync.timeline.limited) {
      // Events between the kept ones and these are unknown: what is kept must stay contiguous.
      this.#dropTimeline(room);
      room.complete = false;
    }
    this.#appendTimeline(room, sync.timeline.events, {
      countMembers: true,
      limited: sync.timeline.limited,
    });
    this.#noteActivity(room, sync.state);
    this.#applyRoomExtras(room, sync);
    room.listing = null;
  }

  /** Unread counts, tags and any `summary` count the entry carries: the server's word wins. */
  #applyRoomExtras(room: JoinedRoom, sync: JoinedRoomSync): void {
    // Synapse sends `unread_notifications` with every joined room it lists (its `/sync` servlet's
    // `encode_room` sets them unconditionally), so an entry's counts are the room's counts now.
    // A server that left them out would read as zeros (src/matrix/sync.ts cannot tell).
    room.unreadNotifications = sync.unreadNotifications;
    const tag = sync.accountData.findLast((event) => event.type === 'm.tag');
    if (tag !== undefined) {
      this.#bytes -= room.tagBytes;
      room.tags = tagsFrom(tag.content);
      room.tagBytes = jsonSize(tag.content);
      this.#bytes += room.tagBytes;
    }
    room.joinedMemberCount = sync.summary.joinedMemberCount ?? room.joinedMemberCount;
    room.invitedMemberCount = sync.summary.invitedMemberCount ?? room.invitedMemberCount;
  }

  /**
   * Appends the timeline events not seen yet, then trims the oldest beyond the limit (the room's
   * history is no longer all there then). A timeline state event updates the state after it. In a
   * `limited` batch, which replaced what was kept, an event seen before is kept again (what is
   * kept must stay contiguous) but not applied again.
   */
  #appendTimeline(
    room: JoinedRoom,
    events: readonly ClientEvent[],
    options: { countMembers: boolean; limited: boolean },
  ): void {
    for (const event of events) {
      const seen = room.seen.has(event.eventId);
      if (
        (seen && !options.limited) ||
        room.timeline.some((kept) => kept.value.eventId === event.eventId)
      ) {
        continue;
      }
      const kept = { value: event, bytes: jsonSize(event) };
      room.timeline.push(kept);
      this.#bytes += kept.bytes;
      if (seen) {
        continue;
      }
      this.#remember(room, event.eventId);
      if (event.stateKey !== null) {
        this.#putState(room, event, options.countMembers);
      }
      room.lastActivityTs = Math.max(room.lastActivityTs, event.originServerTs);
      if (BUMP_TYPES.has(event.type)) {
        room.bumpTs = Math.max(room.bumpTs ?? 0, event.originServerTs);
      }
    }
    while (room.timeline.length > this.#timelineLimit) {
      const dropped = room.timeline.shift();
      this.#bytes -= dropped?.bytes ?? 0;
      room.complete = false;
    }
  }

  /**
   * State-block events date the room too (a room whose timeline brought nothing still has an
   * age), but do not bump it: the state block says what changed, not when the room was active.
   */
  #noteActivity(room: JoinedRoom, state: readonly ClientEvent[]): void {
    for (const event of state) {
      room.lastActivityTs = Math.max(room.lastActivityTs, event.originServerTs);
    }
  }

  /**
   * Puts one state event in, replacing the one under its (type, key). With `countMembers`, a
   * member event moves the member counts by its transition (see {@link #previousMembership}).
   * The event already there is a repeat, not a transition.
   */
  #putState(room: JoinedRoom, event: ClientEvent, countMembers: boolean): void {
    if (event.stateKey === null) {
      return;
    }
    const key = stateKey(event.type, event.stateKey);
    const current = room.state.get(key);
    if (current?.value.eventId === event.eventId) {
      return;
    }
    if (countMembers && event.type === 'm.room.member') {
      const before = previousMembership(current?.value ?? null, event);
      const after = membershipIn(event.content);
      room.joinedMemberCount = moved(room.joinedMemberCount, before === 'join', after === 'join');
      room.invitedMemberCount = moved(
        room.invitedMemberCount,
        before === 'invite',
        after === 'invite',
      );
    }
    const kept = { value: event, bytes: jsonSize(event) };
    this.#bytes += kept.bytes - (current?.bytes ?? 0);
    room.state.set(key, kept);
    room.stateIndex = null;
    if (current !== undefined) {
      room.superseded.add(current.value.eventId);
      this.#bytes += idSize(current.value.eventId);
      if (room.superseded.size > this.#seenLimit) {
        const oldest = room.superseded.values().next().value as string;
        room.superseded.delete(oldest);
        this.#bytes -= idSize(oldest);
      }
    }
  }

  /** Remembers a seen event ID, forgetting the oldest beyond the cap. */
  #remember(room: JoinedRoom, eventId: string): void {
    room.seen.add(eventId);
    this.#bytes += idSize(eventId);
    if (room.seen.size > this.#seenLimit) {
      const oldest = room.seen.values().next().value;
      if (oldest !== undefined) {
        room.seen.delete(oldest);
        this.#bytes -= idSize(oldest);
      }
    }
  }

  #dropTimeline(room: JoinedRoom): void {
    for (const kept of room.timeline) {
      this.#bytes -= kept.bytes;
    }
    room.timeline = [];
  }

  #dropJoined(roomId: string): void {
    const room = this.#joined.get(roomId);
    if (room === undefined) {
      return;
    }
    this.#dropTimeline(room);
    for (const kept of room.state.values()) {
      this.#bytes -= kept.bytes;
    }
    for (const eventId of [...room.seen, ...room.superseded]) {
      this.#bytes -= idSize(eventId);
    }
    this.#bytes -= room.tagBytes;
    this.#joined.delete(roomId);
  }

  /** Invites and knocks: each replaces what the view held of the room. */
  #applyStripped(response: SyncResponse): void {
    for (const [roomId, room] of response.invite) {
      this.#dropJoined(roomId);
      this.#dropStripped(this.#knocks, roomId);
      this.#putStripped(this.#invites, roomId, room.inviteState);
    }
    for (const [roomId, room] of response.knock) {
      this.#dropJoined(roomId);
      this.#dropStripped(this.#invites, roomId);
      this.#putStripped(this.#knocks, roomId, room.knockState);
    }
  }

  #putStripped(
    rooms: Map<string, StrippedRoom>,
    roomId: string,
    state: StrippedStateEvent[],
  ): void {
    this.#dropStripped(rooms, roomId);
    const bytes = jsonSize(state);
    rooms.set(roomId, { state, bytes, listing: null });
    this.#bytes += bytes;
  }

  #dropStripped(rooms: Map<string, StrippedRoom>, roomId: string): void {
    const room = rooms.get(roomId);
    if (room !== undefined) {
      this.#bytes -= room.bytes;
      rooms.delete(roomId);
    }
  }

  /**
   * `m.direct` from the response's global account data, when it carries one: it is sent whole on
   * every change. Every listing's `isDirect` may change with it.
   */
  #applyDirect(response: SyncResponse): void {
    const direct = response.accountData.findLast((event) => event.type === 'm.direct');
    if (direct === undefined) {
      return;
    }
    this.#bytes -= this.#directBytes;
    this.#directBytes = jsonSize(direct.content);
    this.#bytes += this.#directBytes;
    this.#directRooms = new Set([...directMapFrom(direct.content).values()].flat());
    for (const room of [...this.#joined.values(), ...this.#knocks.values()]) {
      room.listing = null;
    }
  }

  /** How many of the room's member events the view holds say `membership`. */
  #countMembers(room: JoinedRoom, membership: 'join' | 'invite'): number {
    let count = 0;
    for (const kept of room.state.values()) {
      if (kept.value.type === 'm.room.member' && membershipIn(kept.value.content) === membership) {
        count += 1;
      }
    }
    return count;
  }

  /**
   * A joined room's listing. Its key is the newest bump event's time (see {@link #joinRoom} for a
   * room first met without one). The state holds every state event of the room, members included
   * (`allMembers`), every type (no `stateTypes`).
   */
  #joinedListing(roomId: string, room: JoinedRoom): ViewListing {
    if (room.listing !== null) {
      return room.listing;
    }
    room.stateIndex ??= StateIndex.fromEvents([...room.state.values()].map((kept) => kept.value));
    const recentEvents: RecentEvents = {
      events: room.timeline.map((kept) => kept.value),
      complete: room.complete,
    };
    const listing: RoomListing = {
      roomId,
      membership: 'join',
      state: room.stateIndex,
      joinedMemberCount: room.joinedMemberCount,
      invitedMemberCount: room.invitedMemberCount,
      lastActivityTs: room.lastActivityTs,
      recentEvents,
      isDirect: this.#directRooms.has(roomId),
      unreadNotifications: room.unreadNotifications,
      allMembers: true,
    };
    if (room.tags !== undefined) {
      listing.tags = room.tags;
    }
    room.listing = { listing, key: { bumpStamp: room.bumpTs ?? room.lastActivityTs, roomId } };
    return room.listing;
  }

  /**
   * An invite's or knock's listing: no timeline to date it by (key 0, so they list by room ID).
   * An invite says for itself whether it is direct (its member event's `is_direct`); a knock
   * goes by `m.direct`.
   */
  #strippedListing(
    roomId: string,
    room: StrippedRoom,
    membership: 'invite' | 'knock',
  ): ViewListing {
    if (room.listing !== null) {
      return room.listing;
    }
    const listing = inviteListing(roomId, room.state);
    if (membership === 'knock') {
      listing.membership = 'knock';
      listing.isDirect = this.#directRooms.has(roomId);
    }
    room.listing = { listing, key: { bumpStamp: listing.lastActivityTs, roomId } };
    return room.listing;
  }
}

/**
 * The membership a member event moves its user from: the member event the view holds for them
 * (it is the state right before, even across a gap, where the state block gives only the last
 * event of several), else the event's own `prev_content` (members are lazy-loaded, so the view
 * lacks most of them; `prev_content` is exact for the event's own predecessor), else `leave`.
 */
function previousMembership(current: ClientEvent | null, event: ClientEvent): string {
  return (
    (current === null ? null : membershipIn(current.content)) ??
    membershipIn(event.unsigned.prevContent) ??
    'leave'
  );
}

/** A count after a member moved out of (`was`) or into (`is`) it; unknown stays unknown. */
function moved(count: number | null, was: boolean, is: boolean): number | null {
  if (count === null) {
    return null;
  }
  return Math.max(0, count - (was ? 1 : 0) + (is ? 1 : 0));
}

/** The tags of an `m.tag` content (`{"tags": {name: {order}}}`), sorted by name. */
function tagsFrom(content: JsonObject): RoomTag[] {
  const tags = content['tags'];
  if (!isJsonObject(tags)) {
    return [];
  }
  return Object.entries(tags)
    .map(([name, value]) => {
      const order = isJsonObject(value) ? value['order'] : undefined;
      return { name, order: typeof order === 'number' && Number.isFinite(order) ? order : null };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Type and state key joined by NUL, which no event type in use contains. */
function stateKey(type: string, key: string): string {
  return `${type}\u0000${key}`;
}

/** The JSON size of a value kept: characters, near enough to bytes for a budget. */
function jsonSize(value: unknown): number {
  return JSON.stringify(value)?.length ?? 0;
}

/** An event ID held in a set: the string, its quotes and a separator. */
function idSize(eventId: string): number {
  return eventId.length + 3;
}
