/**
 * Whether a member may shut a room down, and what it takes, worked out from the room's state
 * before anything changes. Matrix has no call that deletes a room: shutting down is removing every
 * other member and closing the room, which the auth rules allow only to someone who outranks them.
 */
import type { MembershipState } from '../matrix/room-state.ts';
import { membershipIn } from './membership.ts';
import { powerLevelsOf } from './power-levels.ts';
import type { StateIndex } from './state-index.ts';

/** What shutting a room down takes. */
export interface ShutdownPlan {
  /** The other members to remove (joined, invited or knocking), by user ID, sorted. */
  removals: string[];
  /** Whether the join rule still has to become `invite`. */
  closeJoinRule: boolean;
}

/** Either the plan, or why the viewer may not shut the room down (shown to them as is). */
export type ShutdownDecision =
  | { allowed: true; plan: ShutdownPlan }
  | { allowed: false; reason: string };

/** The membership states that keep a user attached to a room: these members are removed. */
const ATTACHED: ReadonlySet<MembershipState | null> = new Set<MembershipState>([
  'join',
  'invite',
  'knock',
]);

/**
 * Whether `viewerId` may shut the room down, and what it takes. The viewer must be joined, have at
 * least the kick level, outrank every member to remove (the auth rules let a member remove only
 * users with a lower level; a privileged creator of a version 12 room outranks everyone but
 * another creator) and, unless the room is already invite-only, have the level to send
 * `m.room.join_rules`. Any of these missing refuses the whole shutdown, so nothing is left half
 * done.
 */
export function planShutdown(state: StateIndex, viewerId: string): ShutdownDecision {
  if (membershipIn(state.content('m.room.member', viewerId)) !== 'join') {
    return { allowed: false, reason: 'You must be joined to the room to delete it.' };
  }
  const levels = powerLevelsOf(state);
  const viewerLevel = levels.levelOf(viewerId);

  if (viewerLevel < levels.kick) {
    return {
      allowed: false,
      reason: `Deleting a room takes the power to kick (level ${levels.kick}); yours is ${viewerLevel}.`,
    };
  }
  const removals = state
    .entries(['m.room.member'])
    .filter((entry) => entry.stateKey !== viewerId && ATTACHED.has(membershipIn(entry.content)))
    .map((entry) => entry.stateKey)
    .sort();
  const outranking = removals.filter((userId) => levels.levelOf(userId) >= viewerLevel);
  if (outranking.length > 0) {
    const who = outranking.length === 1 ? 'a member' : `${outranking.length} members`;
    const named = outranking.slice(0, 3).join(', ') + (outranking.length > 3 ? ', …' : '');
    return {
      allowed: false,
      reason: `You cannot remove ${who} whose power level is not below yours (${named}).`,
    };
  }
  const closeJoinRule = state.content('m.room.join_rules')?.['join_rule'] !== 'invite';
  const joinRulesLevel = levels.levelFor('m.room.join_rules', true);
  if (closeJoinRule && viewerLevel < joinRulesLevel) {
    return {
      allowed: false,
      reason: `Deleting a room makes it invite-only, which takes level ${joinRulesLevel}; yours is ${viewerLevel}.`,
    };
  }
  return { allowed: true, plan: { removals, closeJoinRule } };
}
