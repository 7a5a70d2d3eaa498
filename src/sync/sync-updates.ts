/**
 * Turning one `/sync` response into the updates subscribers receive: which rooms need backfill,
 * and the updates themselves, in order and without duplicates. Pure apart from updating the
 * loop's {@link SyncMemory}, so that it can be tested with scripted responses.
 */
import type { ClientEvent } from '../matrix/events.ts';
import type { JoinedRoomSync, SyncResponse, Timeline } from '../matrix/sync.ts';
import { tagsFrom } from '../matrix/tags.ts';
import { stringArray } from '../room/content.ts';
import { isOwnMembershipChange, lastOwnMemberEvent, membershipIn } from '../room/membership.ts';
import type { SyncUpdate } from './sync-events.ts';
import type { SyncMemory } from './sync-memory.ts';

/**
 * What an event met while paging back through a gap means: `exclude`, it was delivered already
 * and the gap ends after it; `include`, it is the oldest missing event (the viewer's own join to
 * a room new to the stream: nothing before it is news); `null`, missing, keep paging.
 */
export type BackfillBoundary = 'exclude' | 'include' | null;

/** A room whose timeline came back `limited` without reaching what was delivered before. */
export interface BackfillRequest {
  roomId: string;
  /** The timeline's `prev_batch`; `null` when the homeserver gave none to page back from. */
  from: string | null;
  boundary: (event: ClientEvent) => BackfillBoundary;
}

export interface BackfillResult {
  /** The missing events, oldest first. */
  events: ClientEvent[];
  /**
   * Whether the gap is closed: the boundary (or the start of the room's history) was reached.
   * When not, events before `events` may be missing and a `gap` update says so.
   */
  complete: boolean;
}

/**
 * The rooms of `response` whose timeline is `limited` and does not itself reach the last event
 * delivered (or, for a room the viewer just joined, their join): only those have events the
 * response left out. Rooms the viewer left are included when their timeline is delivered.
 */
export function planBackfills(response: SyncResponse, memory: SyncMemory): BackfillRequest[] {
  const requests: BackfillRequest[] = [];
  const consider = (roomId: string, timeline: Timeline, known: boolean): void => {
    if (!timeline.limited) {
      return;
    }
    const boundary = backfillBoundary(memory, roomId, known);
    if (timeline.events.some((event) => boundary(event) !== null)) {
      return;
    }
    requests.push({ roomId, from: timeline.prevBatch, boundary });
  };
  for (const [roomId, room] of response.join) {
    consider(roomId, room.timeline, memory.joined.has(roomId));
  }
  for (const [roomId, room] of response.leave) {
    if (memory.joined.has(roomId)) {
      consider(roomId, room.timeline, true);
    }
  }
  return requests;
}

function backfillBoundary(
  memory: SyncMemory,
  roomId: string,
  known: boolean,
): (event: ClientEvent) => BackfillBoundary {
  return (event) => {
    if (memory.delivered(roomId, event.eventId)) {
      return 'exclude';
    }
    if (!known && isOwnMembershipChange(event, memory.userId, 'join')) {
      return 'include';
    }
    return null;
  };
}

/**
 * The updates of one response, in the order subscribers receive them, and the memory updated to
 * match (delivered event IDs, joined and invited rooms). `backfills` holds the missing events of
 * the rooms {@link planBackfills} named.
 *
 * Per room, in response order: joined rooms, then rooms left, then invites. Within a room: a
 * `gap` if backfill stopped at its bound; each new timeline event, oldest first (backfilled ones
 * before the response's own); one `state` update if state changed (state events among those
 * delivered, or in the response's `state` block); the viewer's membership changes; `typing`;
 * `unread` and `tags` when the viewer's counts or tags differ from what was told before.
 *
 * Timeline events are delivered from the last event delivered before (exclusive) or, in a room
 * the viewer just joined, from their join (inclusive): the history a join reveals is not news.
 */
export function toSyncUpdates(
  response: SyncResponse,
  memory: SyncMemory,
  backfills: ReadonlyMap<string, BackfillResult>,
): SyncUpdate[] {
  const updates: SyncUpdate[] = [];
  const { userId } = memory;

  for (const [roomId, room] of response.join) {
    const known = memory.joined.has(roomId);
    const delivered = deliverTimeline(updates, memory, roomId, {
      events: room.timeline.events,
      stateBlock: room.state,
      backfill: backfills.get(roomId),
      known,
    });
    const changes = delivered.filter((event) => isOwnMembershipChange(event, userId));
    for (const event of changes) {
      updates.push(membershipUpdate(roomId, event));
    }
    if (!known && !changes.some((event) => membershipIn(event.content) === 'join')) {
      // The join itself was not among the delivered events (it lies in a gap): say so anyway,
      // with the member event from the state block when the homeserver sent it.
      const own = lastOwnMemberEvent([...room.state, ...room.timeline.events], userId);
      updates.push({
        kind: 'membership',
        roomId,
        membership: 'join',
        event: own !== null && membershipIn(own.content) === 'join' ? own : null,
        inviteState: [],
      });
    }
    const typing = room.ephemeral.filter((event) => event.type === 'm.typing').at(-1);
    if (typing !== undefined) {
      updates.push({ kind: 'typing', roomId, userIds: stringArray(typing.content['user_ids']) });
    }
    pushReadingChanges(updates, memory, roomId, room);
    memory.joined.add(roomId);
    memory.invited.delete(roomId);
  }

  for (const [roomId, room] of response.leave) {
    const wasJoined = memory.joined.has(roomId);
    const wasInvited = memory.invited.has(roomId);
    const own = lastOwnMemberEvent([...room.state, ...room.timeline.events], userId);
    const ownIsNews = own !== null && !memory.delivered(roomId, own.eventId);
    // Only a room the viewer was in has a timeline to deliver; a rejected or withdrawn invite
    // (the other way into `leave`) is a membership change only.
    const delivered = wasJoined
      ? deliverTimeline(updates, memory, roomId, {
          events: room.timeline.events,
          stateBlock: room.state,
          backfill: backfills.get(roomId),
          known: true,
        })
      : [];
    const changes = delivered.filter((event) => isOwnMembershipChange(event, userId));
    for (const event of changes) {
      updates.push(membershipUpdate(roomId, event));
    }
    if (changes.length === 0 && (wasJoined || wasInvited || ownIsNews)) {
      if (own !== null && membershipIn(own.content) !== null) {
        updates.push(membershipUpdate(roomId, own));
        memory.recent(roomId).remember(own.eventId);
      } else {
        updates.push({
          kind: 'membership',
          roomId,
          membership: 'leave',
          event: null,
          inviteState: [],
        });
      }
    }
    memory.joined.delete(roomId);
    memory.invited.delete(roomId);
    memory.unreadCounts.delete(roomId);
    memory.tags.delete(roomId);
  }

  for (const [roomId, room] of response.invite) {
    // An invite is listed again whenever its stripped state changes; only a new one is news.
    if (!memory.invited.has(roomId)) {
      updates.push({
        kind: 'membership',
        roomId,
        membership: 'invite',
        event: null,
        inviteState: room.inviteState,
      });
    }
    memory.invited.add(roomId);
    memory.joined.delete(roomId);
  }
  return updates;
}

/**
 * Appends a room's `gap`, `timeline` and `state` updates, remembers the delivered event IDs and
 * returns the delivered events.
 */
function deliverTimeline(
  updates: SyncUpdate[],
  memory: SyncMemory,
  roomId: string,
  room: {
    events: ClientEvent[];
    stateBlock: ClientEvent[];
    backfill: BackfillResult | undefined;
    known: boolean;
  },
): ClientEvent[] {
  const recent = memory.recent(roomId);
  let candidates = [...(room.backfill?.events ?? []), ...room.events];
  const ownJoin = room.known
    ? -1
    : candidates.findLastIndex((event) => isOwnMembershipChange(event, memory.userId, 'join'));
  if (ownJoin >= 0) {
    candidates = candidates.slice(ownJoin);
  } else {
    // Whatever precedes an event delivered before is old news, even if the bounded memory has
    // forgotten it by now.
    const lastDelivered = candidates.findLastIndex((event) => recent.has(event.eventId));
    candidates = candidates.slice(lastDelivered + 1);
  }
  // Taken before the timeline is remembered: the state block's events are news unless an
  // earlier response delivered them.
  const stateBlock = room.stateBlock.filter((event) => !recent.has(event.eventId));

  if (room.backfill !== undefined && !room.backfill.complete) {
    updates.push({ kind: 'gap', roomId });
  }
  const delivered: ClientEvent[] = [];
  for (const event of candidates) {
    if (recent.has(event.eventId)) {
      continue;
    }
    recent.remember(event.eventId);
    delivered.push(event);
    updates.push({ kind: 'timeline', roomId, event });
  }
  const changed = uniqueById([
    ...stateBlock,
    ...delivered.filter((event) => event.stateKey !== null),
  ]);
  if (changed.length > 0) {
    updates.push({ kind: 'state', roomId, events: changed });
  }
  return delivered;
}

/** What a room the stream has not told counts of is taken to have had. */
const NO_UNREAD = { notificationCount: 0, highlightCount: 0 };

/**
 * Appends a joined room's `unread` update when its counts differ from the last told (every joined
 * room of a response carries them), and `tags` when it brings an `m.tag` other than the last
 * delivered one (Synapse sends room account data only when it changed, but a retried sync may
 * send it again).
 */
function pushReadingChanges(
  updates: SyncUpdate[],
  memory: SyncMemory,
  roomId: string,
  room: JoinedRoomSync,
): void {
  const counts = room.unreadNotifications;
  const before = memory.unreadCounts.get(roomId) ?? NO_UNREAD;
  if (
    counts.notificationCount !== before.notificationCount ||
    counts.highlightCount !== before.highlightCount
  ) {
    updates.push({ kind: 'unread', roomId, counts: { ...counts } });
  }
  memory.unreadCounts.set(roomId, counts);
  const tagEvent = room.accountData.findLast((event) => event.type === 'm.tag');
  if (tagEvent !== undefined) {
    const tags = tagsFrom(tagEvent.content);
    const told = JSON.stringify(tags);
    if (memory.tags.get(roomId) !== told) {
      updates.push({ kind: 'tags', roomId, tags });
    }
    memory.tags.set(roomId, told);
  }
}

function membershipUpdate(roomId: string, event: ClientEvent): SyncUpdate {
  return {
    kind: 'membership',
    roomId,
    membership: membershipIn(event.content) ?? 'leave',
    event,
    inviteState: [],
  };
}

function uniqueById(events: ClientEvent[]): ClientEvent[] {
  const seen = new Set<string>();
  return events.filter((event) => {
    if (seen.has(event.eventId)) {
      return false;
    }
    seen.add(event.eventId);
    return true;
  });
}
