/**
 * What the sync bridge delivers to subscribers: one user's updates, in sync order.
 *
 * Order within one `/sync` response: rooms the viewer is joined to, then rooms they left, then
 * invites, each room in the order the homeserver listed it; within a room, `gap` (if any), then
 * `timeline`, `state`, `membership`, `typing`, `unread` and `tags`. Every update is plain JSON
 * data but `ended`'s error. A subscriber gets what happens after it
 * subscribed: a new loop's initial sync only fixes the position and is never delivered.
 */

import type { UpstreamError } from '../matrix/errors.ts';
import type { ClientEvent, StrippedStateEvent } from '../matrix/events.ts';
import type { MembershipState } from '../matrix/room-state.ts';
import type { UnreadNotifications } from '../matrix/sync.ts';
import type { RoomTag } from '../matrix/tags.ts';

export type SyncUpdate =
  /**
   * A new event of a room's timeline (state events included), delivered once, in timeline order,
   * gaps in a `limited` sync filled by backfill.
   *
   * In a room the viewer has just joined, the timeline starts with their own join event: the
   * history the join makes visible is not new. A room they left delivers its events up to their
   * leave; rooms they were only invited to deliver none.
   */
  | { kind: 'timeline'; roomId: string; event: ClientEvent }
  /**
   * The room's state changed (a state event in the timeline, or state that changed inside a gap):
   * one update per sync response and room, after that room's timeline updates.
   *
   * `events` are the changed state events, oldest first: those of the response's `state` block
   * (state that changed inside a gap; for a room just joined, its whole state) followed by the
   * state events among the delivered timeline events.
   */
  | { kind: 'state'; roomId: string; events: ClientEvent[] }
  /**
   * The viewer's own membership in a room changed: invited (with the stripped invite state the
   * inviter shared, and no event), joined, left, kicked or banned (with the member event).
   *
   * A kick is `leave` with an event whose `sender` is someone else; a rejected invite is `leave`
   * too. A join whose member event lies in an unfilled gap comes with the event from the state
   * block when the homeserver sent one, else `null`. A change of display name or avatar is no
   * membership change. `inviteState` is empty except for invites.
   */
  | {
      kind: 'membership';
      roomId: string;
      membership: MembershipState;
      event: ClientEvent | null;
      inviteState: StrippedStateEvent[];
    }
  /** Who is typing in a room now (the ephemeral part of sync); an empty list: nobody. */
  | { kind: 'typing'; roomId: string; userIds: string[] }
  /**
   * The viewer's unread counts in a joined room changed (a message that notifies them, a read
   * receipt of theirs, from any of their clients): the counts now. A room the stream had not told
   * counts of before (just joined, or the loop resumed elsewhere) counts as having had none.
   */
  | { kind: 'unread'; roomId: string; counts: UnreadNotifications }
  /** The viewer's tags on a room changed (`m.tag`, from any of their clients): all of them now. */
  | { kind: 'tags'; roomId: string; tags: RoomTag[] }
  /**
   * Backfill after a `limited` sync stopped at its bound: events of this room between the last
   * delivered one and the first delivered after this update may be missing.
   *
   * Also sent, for every room the viewer is in, when the homeserver refused the stored position
   * and the loop had to start again from the current one.
   */
  | { kind: 'gap'; roomId: string }
  /**
   * The loop has ended for good (the token was revoked: `M_UNKNOWN_TOKEN`); nothing follows. Other
   * failures never end it: it backs off and resumes from where it was.
   */
  | { kind: 'ended'; error: UpstreamError };

/** The kinds of update a subscriber may ask for (`ended` comes to every subscriber). */
export type SyncUpdateKind = Exclude<SyncUpdate['kind'], 'ended'>;

/** The update of one kind, e.g. `SyncUpdateOf<'timeline'>`. */
export type SyncUpdateOf<K extends SyncUpdate['kind']> = Extract<SyncUpdate, { kind: K }>;

export type EndedUpdate = SyncUpdateOf<'ended'>;

/**
 * The last item of a stream whose consumer fell a whole queue behind on updates that can be neither
 * dropped nor merged (`membership`; timeline events of a stream without gaps): everything before it
 * was delivered, nothing follows, and the stream has already let go of the hub.
 */
export type OverflowUpdate = { kind: 'overflow'; limit: number };

/** What a stream may end with, besides finishing quietly: the token was revoked, or it overflowed. */
export type StreamEnd = EndedUpdate | OverflowUpdate;

/** Someone receiving one user's updates; the hub calls it synchronously, in order. */
export type SyncListener = (update: SyncUpdate) => void;
