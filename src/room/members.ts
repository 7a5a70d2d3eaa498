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
  const members: RoomMember[] = [];
  for (const entry of state.entries(['m.room.member'])) {
    const current = membershipIn(entry.content);
    if (current !== null && (membership == null || current === membership)) {
      members.push({
        userId: entry.stateKey,
        membership: current,
        content: entry.content,
        powerLevel: powerLevels.levelOf(entry.stateKey),
        isPrivilegedCreator: powerLevels.isPrivilegedCreator(entry.stateKey),
      });
    }
  }
  return members.sort(
    (a, b) =>
      b.powerLevel - a.powerLevel ||
      sortName(a).localeCompare(sortName(b)) ||
      a.userId.localeCompare(b.userId),
  );
}

function sortName(member: RoomMember): string {
  return (stringIn(member.content, 'displayname') ?? member.userId.slice(1)).toLowerCase();
}
