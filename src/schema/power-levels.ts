/**
 * Power levels (`m.room.power_levels`, event-schemas/schema/m.room.power_levels.yaml), with the
 * spec's defaults for keys the event leaves out and for rooms without the event.
 */
import { builder } from './builder.ts';
import type { StateEntry } from './state-index.ts';
import { UserRef } from './user.ts';

export interface PowerLevelsData {
  users: Map<string, number>;
  usersDefault: number;
  events: Map<string, number>;
  eventsDefault: number;
  stateDefault: number;
  ban: number;
  kick: number;
  invite: number;
  redact: number;
  /** A user's level: theirs when listed, else `usersDefault`. */
  levelOf(userId: string): number;
}

/**
 * Reads a power-levels event. Without one, the creator has 100 and everyone else 0, and state
 * needs 0 (the spec's rule for rooms with no `m.room.power_levels`); with one, absent keys take
 * the spec's defaults (ban, kick, redact and state 50; invite, events and users 0).
 */
export function powerLevelsFrom(
  powerLevels: StateEntry | null,
  create: StateEntry | null,
): PowerLevelsData {
  const content = powerLevels?.content ?? {};
  const level = (key: string, fallback: number) => toLevel(content[key]) ?? fallback;
  const users = toLevelMap(content['users']);
  if (powerLevels === null && create !== null) {
    const creator = create.content['creator'];
    users.set(typeof creator === 'string' ? creator : create.sender, 100);
  }
  const usersDefault = level('users_default', 0);
  return {
    users,
    usersDefault,
    events: toLevelMap(content['events']),
    eventsDefault: level('events_default', 0),
    stateDefault: level('state_default', powerLevels === null ? 0 : 50),
    ban: level('ban', 50),
    kick: level('kick', 50),
    invite: level('invite', 0),
    redact: level('redact', 50),
    levelOf: (userId) => users.get(userId) ?? usersDefault,
  };
}

/**
 * Levels are integers; older rooms may hold them as strings of digits. The spec allows up to
 * ±(2^53 − 1), GraphQL's Int only 32 bits: larger levels are clamped, which keeps every
 * comparison between them and the usual levels (0–100) as it was.
 */
function toLevel(value: unknown): number | null {
  let level: number | null = null;
  if (typeof value === 'number' && Number.isInteger(value)) {
    level = value;
  } else if (typeof value === 'string' && /^-?\d+$/.test(value)) {
    level = Number(value);
  }
  return level === null ? null : Math.min(INT32_MAX, Math.max(INT32_MIN, level));
}

const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

function toLevelMap(value: unknown): Map<string, number> {
  const levels = new Map<string, number>();
  if (typeof value === 'object' && value !== null) {
    for (const [key, raw] of Object.entries(value)) {
      const parsed = toLevel(raw);
      if (parsed !== null) {
        levels.set(key, parsed);
      }
    }
  }
  return levels;
}

const UserPowerLevelRef = builder
  .objectRef<{ userId: string; level: number }>('UserPowerLevel')
  .implement({
    fields: (t) => ({
      user: t.field({ type: UserRef, resolve: (entry) => ({ userId: entry.userId }) }),
      level: t.exposeInt('level'),
    }),
  });

const EventPowerLevelRef = builder
  .objectRef<{ type: string; level: number }>('EventPowerLevel')
  .implement({
    fields: (t) => ({
      type: t.exposeString('type', { description: 'An event type, e.g. `m.room.name`.' }),
      level: t.exposeInt('level'),
    }),
  });

export const PowerLevelsRef = builder.objectRef<PowerLevelsData>('PowerLevels').implement({
  description:
    'Who may do what in a room (`m.room.power_levels`, with the spec defaults filled in).',
  fields: (t) => ({
    users: t.field({
      type: [UserPowerLevelRef],
      description: 'Users with a level of their own, highest first.',
      resolve: (levels) =>
        [...levels.users]
          .map(([userId, level]) => ({ userId, level }))
          .sort((a, b) => b.level - a.level || a.userId.localeCompare(b.userId)),
    }),
    usersDefault: t.exposeInt('usersDefault', { description: 'The level of unlisted users.' }),
    events: t.field({
      type: [EventPowerLevelRef],
      description: 'Levels needed to send particular event types.',
      resolve: (levels) =>
        [...levels.events]
          .map(([type, level]) => ({ type, level }))
          .sort((a, b) => a.type.localeCompare(b.type)),
    }),
    eventsDefault: t.exposeInt('eventsDefault', {
      description: 'The level needed to send message events not listed in `events`.',
    }),
    stateDefault: t.exposeInt('stateDefault', {
      description: 'The level needed to send state events not listed in `events`.',
    }),
    ban: t.exposeInt('ban', { description: 'The level needed to ban.' }),
    kick: t.exposeInt('kick', { description: 'The level needed to kick.' }),
    invite: t.exposeInt('invite', { description: 'The level needed to invite.' }),
    redact: t.exposeInt('redact', {
      description: "The level needed to redact other users' events.",
    }),
  }),
});
