/**
 * The values the spec defines for a room's settings: who may join (m.room.join_rules.yaml), who
 * may read the history (m.room.history_visibility.yaml) and whether guests may join
 * (m.room.guest_access.yaml). Senders can put any string in an event; only these are known.
 */

export const JOIN_RULES = [
  'public',
  'knock',
  'invite',
  'private',
  'restricted',
  'knock_restricted',
] as const;
export type JoinRule = (typeof JOIN_RULES)[number];

export const HISTORY_VISIBILITIES = ['invited', 'joined', 'shared', 'world_readable'] as const;
export type HistoryVisibility = (typeof HISTORY_VISIBILITIES)[number];

export const GUEST_ACCESSES = ['can_join', 'forbidden'] as const;
export type GuestAccess = (typeof GUEST_ACCESSES)[number];

/** `value` when it is one of `known`, else `null` (absent, or a value the spec does not define). */
export function knownValue<T extends string>(known: readonly T[], value: string | null): T | null {
  return known.find((candidate) => candidate === value) ?? null;
}
