/**
 * The `PowerLevels` type: a room's `m.room.power_levels` with the spec's defaults filled in, as
 * src/room/power-levels.ts reads it, fitted into GraphQL's 32-bit `Int`.
 */
import type { PowerLevels } from '../room/power-levels.ts';
import { builder } from './builder.ts';
import { UserRef } from './user.ts';

const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

/**
 * A level as GraphQL's `Int` can carry it. The spec allows ±(2^53 − 1) and a privileged creator's
 * power is unlimited; both are clamped, which keeps every comparison with the usual levels
 * (0–100) as it was. A privileged creator therefore reads as 2147483647.
 */
export function graphqlLevel(level: number): number {
  return Math.min(INT32_MAX, Math.max(INT32_MIN, level));
}

interface UserLevel {
  userId: string;
  level: number;
  isPrivilegedCreator: boolean;
}

const UserPowerLevelRef = builder.objectRef<UserLevel>('UserPowerLevel').implement({
  description: 'A user with a power level of their own in a room.',
  fields: (t) => ({
    user: t.field({
      type: UserRef,
      description: 'The user.',
      resolve: (entry) => ({ userId: entry.userId }),
    }),
    level: t.int({
      description: 'The level; 2147483647 (the largest Int) for a privileged creator.',
      resolve: (entry) => graphqlLevel(entry.level),
    }),
    isPrivilegedCreator: t.exposeBoolean('isPrivilegedCreator', {
      description:
        'A creator of a room of version 12 or later, whose power is unlimited: above every level, never listed in `m.room.power_levels`.',
    }),
  }),
});

const EventPowerLevelRef = builder
  .objectRef<{ type: string; level: number }>('EventPowerLevel')
  .implement({
    description: 'The level an event type needs, where the room sets one of its own.',
    fields: (t) => ({
      type: t.exposeString('type', { description: 'An event type, e.g. `m.room.name`.' }),
      level: t.int({
        description: 'The power level needed to send events of this type.',
        resolve: (entry) => graphqlLevel(entry.level),
      }),
    }),
  });

/** Code-point order, the same on every machine (unlike localeCompare). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const PowerLevelsRef = builder.objectRef<PowerLevels>('PowerLevels').implement({
  description:
    'Who may do what in a room (`m.room.power_levels`, with the spec defaults filled in; from room version 12 on, the privileged creators above everyone).',
  fields: (t) => ({
    users: t.field({
      type: [UserPowerLevelRef],
      description:
        'Users with a level of their own, highest first: the privileged creators (room version 12 on), then those `m.room.power_levels` lists.',
      resolve: (levels) =>
        [
          ...[...levels.privilegedCreators].map((userId) => ({
            userId,
            level: Number.POSITIVE_INFINITY,
            isPrivilegedCreator: true,
          })),
          ...[...levels.users]
            .filter(([userId]) => !levels.isPrivilegedCreator(userId))
            .map(([userId, level]) => ({ userId, level, isPrivilegedCreator: false })),
        ].sort((a, b) => b.level - a.level || compare(a.userId, b.userId)),
    }),
    privilegedCreators: t.field({
      type: [UserRef],
      description:
        'The creators of a room of version 12 or later (the `m.room.create` sender and its `additional_creators`), whose power is unlimited; empty for earlier versions.',
      resolve: (levels) =>
        [...levels.privilegedCreators].sort(compare).map((userId) => ({ userId })),
    }),
    usersDefault: t.int({
      description: 'The level of unlisted users.',
      resolve: (levels) => graphqlLevel(levels.usersDefault),
    }),
    events: t.field({
      type: [EventPowerLevelRef],
      description: 'Levels needed to send particular event types.',
      resolve: (levels) =>
        [...levels.events]
          .map(([type, level]) => ({ type, level }))
          .sort((a, b) => compare(a.type, b.type)),
    }),
    eventsDefault: t.int({
      description: 'The level needed to send message events not listed in `events`.',
      resolve: (levels) => graphqlLevel(levels.eventsDefault),
    }),
    stateDefault: t.int({
      description: 'The level needed to send state events not listed in `events`.',
      resolve: (levels) => graphqlLevel(levels.stateDefault),
    }),
    ban: t.int({ description: 'The level needed to ban.', resolve: (l) => graphqlLevel(l.ban) }),
    kick: t.int({ description: 'The level needed to kick.', resolve: (l) => graphqlLevel(l.kick) }),
    invite: t.int({
      description: 'The level needed to invite.',
      resolve: (levels) => graphqlLevel(levels.invite),
    }),
    redact: t.int({
      description: "The level needed to redact other users' events.",
      resolve: (levels) => graphqlLevel(levels.redact),
    }),
  }),
});
