/**
 * A room's member list from its state (`m.room.member`, event-schemas/schema/m.room.member.yaml):
 * each member's membership, room profile and power, in the order a member list shows them.
 */
import type { JsonObject } from '../matrix/events.ts';
import type { MembershipState } from '../matrix/room-state.ts';
import { stringIn } from './content.ts';
import { membershipIn } from './membership.ts';
import type { PowerLevels } from './power-levels.ts';
import type { StateIndex } from './state-index.ts';

export interface RoomMember {
  userId: string;
  membership: MembershipState;
  /** The member event's content, for the room-specific profile (`displayname`, `avatar_url`). */
  content: JsonObject;
  /** `Infinity` for a privileged creator (room version 12 on). */
  powerLevel: number;
  isPrivilegedCreator: boolean;
}

/**
 * The room's members, or only those in `membership`: highest power level first, then by display
 * name (case-insensitive, the user ID's localpart for members without one), then by user ID. A
 * member event whose `membership` is not one the spec defines is no membership (the auth rules
 * refuse such events) and is left out rather than guessed at.
 */
export function roomMembers(
  state: StateIndex,
  powerLevels: PowerLevels,
  membership?: MembershipState | null,
): RoomMember[] {
  const members: { member: RoomMember; sortName: string }[] = [];
  for (const entry of state.entries(['m.room.member'])) {
    const current = membershipIn(entry.content);
    if (current !== null && (membership == null || current === membership)) {
      const member: RoomMember = {
        userId: entry.stateKey,
        membership: current,
        content: entry.content,
        powerLevel: powerLevels.levelOf(entry.stateKey),
        isPrivilegedCreator: powerLevels.isPrivilegedCreator(entry.stateKey),
      };
      members.push({ member, sortName: sortName(member) });
    }
  }
  return members
    .sort(
      (a, b) =>
        b.member.powerLevel - a.member.powerLevel ||
        collator.compare(a.sortName, b.sortName) ||
        collator.compare(a.member.userId, b.member.userId),
    )
    .map(({ member }) => member);
}

/**
 * `localeCompare`'s order (the default locale), from one collator: `localeCompare` sets one up for
 * every comparison, a few microseconds each, and a member list sorts with hundreds.
 */
const collator = new Intl.Collator();

function sortName(member: RoomMember): string {
  return (stringIn(member.content, 'displayname') ?? member.userId.slice(1)).toLowerCase();
}
