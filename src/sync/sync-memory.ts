/** What one sync loop remembers between responses. */
import type { SyncResponse, UnreadNotifications } from '../matrix/sync.ts';
import { RecentIds } from './recent-ids.ts';

/**
 * How many recently delivered event IDs are remembered per room. Duplicates come from a few
 * places only (a sync retried with the same `since`, a backfill page overlapping the timeline, a
 * state event both in `state` and in the timeline), all of them recent, so a few hundred per
 * room suffices while keeping a user with thousands of rooms at a few hundred kilobytes.
 */
export const RECENT_EVENTS_PER_ROOM = 256;

/**
 * How many of each room's newest delivered event IDs a {@link SyncPosition} carries: enough for a
 * loop resuming elsewhere to stop backfill at what was delivered, and to drop a repeated event.
 */
export const POSITION_EVENTS_PER_ROOM = 4;

/**
 * Where a loop stands, as plain data another loop of the same token can resume from (another
 * instance taking over in cluster mode): what the next sync continues from and what was delivered.
 */
export interface SyncPosition {
  since: string;
  joined: string[];
  invited: string[];
  /** Per room, its newest delivered event IDs, oldest first. */
  recent: Record<string, string[]>;
  /**
   * Per room with any, the viewer's unread counts as last delivered, `[notifications,
   * highlights]` (a room not named has none). Without them a loop resuming elsewhere would take a
   * room's counts dropping to 0 for no change, and its subscribers would never hear of it.
   * Absent from positions stored before they were kept: those resume without, as then.
   */
  unread?: Record<string, [number, number]>;
  /** Per room, its tags as last delivered (see {@link SyncMemory.tags}): none delivered twice. */
  tags?: Record<string, string>;
}

/**
 * One user's position in their sync stream, and what has been delivered from it.
 *
 * Established by an initial sync (see {@link SyncMemory.establish}) and then updated by each
 * response, always before the response's updates go out.
 */
export class SyncMemory {
  /** The viewer, whose own member events are membership changes. */
  readonly userId: string;
  /**
   * The `next_batch` to continue from; `null` until the position is established, or after the
   * homeserver refused the old one.
   */
  since: string | null = null;
  /** Rooms the viewer is joined to, as far as the stream has told. */
  readonly joined = new Set<string>();
  /** Rooms the viewer is invited to, as far as the stream has told. */
  readonly invited = new Set<string>();
  /**
   * Per joined room, the viewer's unread counts as the stream last told them (the initial sync
   * included), so that only a change is delivered.
   */
  readonly unreadCounts = new Map<string, UnreadNotifications>();
  /**
   * Per room, the viewer's tags as the stream last delivered them (JSON of the sorted tags), so
   * that a repeated `m.tag` is not delivered twice.
   */
  readonly tags = new Map<string, string>();
  readonly #recent = new Map<string, RecentIds>();
  readonly #capacity: number;

  constructor(userId: string, recentEventsPerRoom = RECENT_EVENTS_PER_ROOM) {
    this.userId = userId;
    this.#capacity = recentEventsPerRoom;
  }

  /**
   * Takes the position from an initial sync, whose content is never delivered: subscribers get
   * what happens after it. What it establishes:
   *
   * - `since`: the response's `next_batch`;
   * - per joined room, the last event of its timeline, remembered as delivered: when a later
   *   sync of that room comes back `limited`, backfill pages back until it reaches that event
   *   (or any other delivered one) and no further;
   * - which rooms the viewer is joined to and invited to, so that later syncs tell a new join or
   *   invite from one that was already there;
   * - each joined room's unread counts, so that later syncs tell when they change.
   *
   * Calling it again (after the homeserver refused `since`) replaces the room sets and keeps the
   * delivered IDs.
   */
  establish(initial: SyncResponse): void {
    this.since = initial.nextBatch;
    this.joined.clear();
    this.invited.clear();
    this.unreadCounts.clear();
    for (const [roomId, room] of initial.join) {
      this.joined.add(roomId);
      this.unreadCounts.set(roomId, room.unreadNotifications);
      for (const event of room.timeline.events) {
        this.recent(roomId).remember(event.eventId);
      }
    }
    for (const roomId of initial.invite.keys()) {
      this.invited.add(roomId);
    }
  }

  /** The position as plain data; `null` until one is established. */
  position(): SyncPosition | null {
    if (this.since === null) {
      return null;
    }
    const recent: Record<string, string[]> = {};
    for (const [roomId, ids] of this.#recent) {
      if (ids.size > 0) {
        recent[roomId] = ids.newest(POSITION_EVENTS_PER_ROOM);
      }
    }
    const unread: Record<string, [number, number]> = {};
    for (const [roomId, { notificationCount, highlightCount }] of this.unreadCounts) {
      if (notificationCount !== 0 || highlightCount !== 0) {
        unread[roomId] = [notificationCount, highlightCount];
      }
    }
    return {
      since: this.since,
      joined: [...this.joined],
      invited: [...this.invited],
      recent,
      unread,
      tags: Object.fromEntries(this.tags),
    };
  }

  /** Takes over a position another loop of the same token stored: its next sync continues it. */
  resume(position: SyncPosition): void {
    this.since = position.since;
    this.joined.clear();
    this.invited.clear();
    for (const roomId of position.joined) {
      this.joined.add(roomId);
    }
    for (const roomId of position.invited) {
      this.invited.add(roomId);
    }
    for (const [roomId, ids] of Object.entries(position.recent)) {
      for (const id of ids) {
        this.recent(roomId).remember(id);
      }
    }
    this.unreadCounts.clear();
    for (const [roomId, [notificationCount, highlightCount]] of Object.entries(
      position.unread ?? {},
    )) {
      this.unreadCounts.set(roomId, { notificationCount, highlightCount });
    }
    this.tags.clear();
    for (const [roomId, tags] of Object.entries(position.tags ?? {})) {
      this.tags.set(roomId, tags);
    }
  }

  /** The room's recently delivered event IDs (an empty memory for a room not seen yet). */
  recent(roomId: string): RecentIds {
    let ids = this.#recent.get(roomId);
    if (ids === undefined) {
      ids = new RecentIds(this.#capacity);
      this.#recent.set(roomId, ids);
    }
    return ids;
  }

  /** Whether the event was delivered (or was the room's last event at the initial sync). */
  delivered(roomId: string, eventId: string): boolean {
    return this.#recent.get(roomId)?.has(eventId) ?? false;
  }
}
