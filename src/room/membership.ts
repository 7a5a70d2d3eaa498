/**
 * Membership (`m.room.member`, event-schemas/schema/m.room.member.yaml): the five states the spec
 * defines, read from content without trusting it, and the viewer's own membership events.
 */
import type { ClientEvent, JsonObject } from '../matrix/events.ts';
import type { MembershipState } from '../matrix/room-state.ts';

/** Every membership state the spec defines, in the order the spec lists them. */
export const MEMBERSHIP_STATES: readonly MembershipState[] = [
  'invite',
  'join',
  'knock',
  'leave',
  'ban',
];

const known: ReadonlySet<unknown> = new Set(MEMBERSHIP_STATES);

/** Whether `value` is one of the spec's membership states. */
export function isMembership(value: unknown): value is MembershipState {
  return known.has(value);
}

/**
 * The `membership` of member event content; `null` without content, or for a value the spec does
 * not define (a sender may put anything there).
 */
export function membershipIn(content: JsonObject | null | undefined): MembershipState | null {
  const membership = content?.['membership'];
  return isMembership(membership) ? membership : null;
}

/**
 * Whether `event` moves `userId` from one membership to another (to `to`, when given). A member
 * event that keeps the membership (a display name change) is not one.
 */
export function isOwnMembershipChange(
  event: ClientEvent,
  userId: string,
  to?: MembershipState,
): boolean {
  if (event.type !== 'm.room.member' || event.stateKey !== userId) {
    return false;
  }
  const membership = membershipIn(event.content);
  return (
    membership !== null &&
    (to === undefined || membership === to) &&
    membership !== membershipIn(event.unsigned.prevContent)
  );
}

/** The last `m.room.member` event about `userId` among `events` (in timeline order). */
export function lastOwnMemberEvent(
  events: readonly ClientEvent[],
  userId: string,
): ClientEvent | null {
  return (
    events.findLast((event) => event.type === 'm.room.member' && event.stateKey === userId) ?? null
  );
}
