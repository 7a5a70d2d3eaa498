/**
 * Direct-message rooms: the `m.direct` account data (user ID → room IDs,
 * event-schemas/schema/m.direct.yaml) and the lookup of the room to use with a user.
 */
import type { JsonObject } from '../matrix/events.ts';
import type { MembershipState } from '../matrix/room-state.ts';
import { stringArray } from './content.ts';

/**
 * The `m.direct` map from its content; entries that are not lists are dropped, and so are list
 * items that are not strings. Empty without the account data.
 */
export function directMapFrom(content: JsonObject | null): Map<string, string[]> {
  const direct = new Map<string, string[]>();
  for (const [userId, roomIds] of Object.entries(content ?? {})) {
    if (Array.isArray(roomIds)) {
      direct.set(userId, stringArray(roomIds));
    }
  }
  return direct;
}

/**
 * The direct room with `userId`: the newest room `m.direct` lists for them (clients append, so the
 * last one) that the viewer is still in, joined or invited, going by `rooms`; `null` when none.
 * A room the viewer left stays listed in `m.direct`, but is no conversation any more.
 */
export function findDirectRoom(
  direct: ReadonlyMap<string, readonly string[]>,
  userId: string,
  rooms: readonly { roomId: string; membership: MembershipState }[],
): string | null {
  const current = new Set(
    rooms
      .filter((room) => room.membership === 'join' || room.membership === 'invite')
      .map((room) => room.roomId),
  );
  return (direct.get(userId) ?? []).findLast((roomId) => current.has(roomId)) ?? null;
}
