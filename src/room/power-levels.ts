/**
 * Power levels (event-schemas/schema/m.room.power_levels.yaml) and the room-version rules around
 * them (m.room.create.yaml): who the creator is, and from room version 12 on the "privileged
 * creators", whose power is unlimited and who are never listed in `m.room.power_levels`.
 *
 * Levels stay exact here, as the auth rules compare them. GraphQL's `Int` holds only 32 bits and
 * no `Infinity`: fitting a level into it is the schema's business, not a rule of Matrix.
 */
import type { JsonObject } from '../matrix/events.ts';
import { isJsonObject, stringIn, stringsIn } from './content.ts';
import type { StateIndex } from './state-index.ts';

/** The parts of an `m.room.create` event these rules read; a `StateEntry` or `ClientEvent` fits. */
export interface CreateEvent {
  sender: string;
  content: JsonObject;
}

/** Who may do what in a room, with the spec's defaults filled in. */
export interface PowerLevels {
  /**
   * Users with a level of their own, as `m.room.power_levels` lists them (without the event: the
   * creator at 100 before version 12). Privileged creators have none: see `levelOf`.
   */
  readonly users: ReadonlyMap<string, number>;
  /** The level of users not in `users`. */
  readonly usersDefault: number;
  /** Event type → the level needed to send it. */
  readonly events: ReadonlyMap<string, number>;
  /** The level needed for message events not in `events`. */
  readonly eventsDefault: number;
  /** The level needed for state events not in `events`. */
  readonly stateDefault: number;
  /** The level needed to ban. */
  readonly ban: number;
  /** The level needed to kick. */
  readonly kick: number;
  /** The level needed to invite. */
  readonly invite: number;
  /** The level needed to redact another user's events. */
  readonly redact: number;
  /** Notification key → the level needed to trigger it; `room` (`@room`) is always present. */
  readonly notifications: ReadonlyMap<string, number>;
  /** The users whose power is unlimited (room version 12 on; empty before). */
  readonly privilegedCreators: ReadonlySet<string>;
  /** A user's level: `Infinity` for a privileged creator, theirs when listed, else `usersDefault`. */
  levelOf(userId: string): number;
  /** Whether `userId` is a privileged creator: above every level, listed in none. */
  isPrivilegedCreator(userId: string): boolean;
  /** The level needed to send `eventType`, a state event when `isState`. */
  levelFor(eventType: string, isState: boolean): number;
}

/**
 * The room's version from its create event's content: `'1'` when the content does not say (the
 * spec's default), `null` when there is no create event to ask.
 */
export function roomVersionOf(createContent: JsonObject | null): string | null {
  return createContent === null ? null : (stringIn(createContent, 'room_version') ?? '1');
}

/**
 * Who created the room: `content.creator` in room versions 1–10, the event's sender from 11 on
 * (where `creator` is gone and any such key means nothing). For a version we cannot place, a
 * `creator` present is taken, as only the older versions have one.
 */
export function creatorOf(create: CreateEvent): string {
  const version = versionOf(create);
  const namedInContent = version === null || version < 11;
  return (namedInContent ? stringIn(create.content, 'creator') : null) ?? create.sender;
}

/**
 * The privileged creators: from room version 12 on, the create event's sender and its
 * `additional_creators` (the strings among them); nobody in earlier versions, whose
 * `additional_creators` "serves no purpose" (m.room.create.yaml), or without a create event.
 * Versions named by a number above 12 keep the rule, as room versions inherit unless they say
 * otherwise.
 */
export function privilegedCreators(create: CreateEvent | null): ReadonlySet<string> {
  const version = create === null ? null : versionOf(create);
  if (create === null || version === null || version < 12) {
    return new Set();
  }
  return new Set([create.sender, ...stringsIn(create.content, 'additional_creators')]);
}

/**
 * The room's power levels from its state. Without `m.room.power_levels` the creator has 100 and
 * everyone else 0 (in version 12 on, the privileged creators are unlimited instead and everyone
 * else 0); every other level takes the spec's default either way.
 */
export function powerLevelsOf(state: StateIndex): PowerLevels {
  const create = state.get('m.room.create');
  const creators = privilegedCreators(create);
  const content = state.content('m.room.power_levels');
  if (content !== null) {
    return levelsFrom(content, creators, toLevelMap(content['users']));
  }
  const users = new Map<string, number>();
  if (create !== null && creators.size === 0) {
    users.set(creatorOf(create), 100);
  }
  return levelsFrom({}, creators, users);
}

/**
 * The levels one `m.room.power_levels` event sets, on its own: no creators, as the event does not
 * say who they are.
 */
export function powerLevelsFromContent(content: JsonObject): PowerLevels {
  return levelsFrom(content, new Set(), toLevelMap(content['users']));
}

/**
 * Where the room's version stands for the rules here: its number, or 12 for `org.matrix.hydra.11`
 * (the test version room version 12 grew from, with privileged creators); `null` for a version we
 * cannot place.
 */
function versionOf(create: CreateEvent): number | null {
  const version = stringIn(create.content, 'room_version') ?? '1';
  if (version === 'org.matrix.hydra.11') {
    return 12;
  }
  return /^\d+$/.test(version) ? Number(version) : null;
}

function levelsFrom(
  content: JsonObject,
  creators: ReadonlySet<string>,
  users: ReadonlyMap<string, number>,
): PowerLevels {
  const level = (key: string, fallback: number) => toLevel(content[key]) ?? fallback;
  const usersDefault = level('users_default', 0);
  const events = toLevelMap(content['events']);
  const eventsDefault = level('events_default', 0);
  const stateDefault = level('state_default', 50);
  const notifications = toLevelMap(content['notifications']);
  if (!notifications.has('room')) {
    notifications.set('room', 50);
  }
  return {
    users,
    usersDefault,
    events,
    eventsDefault,
    stateDefault,
    ban: level('ban', 50),
    kick: level('kick', 50),
    invite: level('invite', 0),
    redact: level('redact', 50),
    notifications,
    privilegedCreators: creators,
    levelOf: (userId) =>
      creators.has(userId) ? Number.POSITIVE_INFINITY : (users.get(userId) ?? usersDefault),
    isPrivilegedCreator: (userId) => creators.has(userId),
    levelFor: (eventType, isState) =>
      events.get(eventType) ?? (isState ? stateDefault : eventsDefault),
  };
}

/**
 * A level: an integer within the spec's range ±(2^53 − 1), which is exactly JavaScript's safe
 * integers; rooms before version 10 may hold it as a string of digits. Anything else is no level
 * (the key then takes its default).
 */
function toLevel(value: unknown): number | null {
  const level = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  return typeof level === 'number' && Number.isSafeInteger(level) ? level : null;
}

function toLevelMap(value: unknown): Map<string, number> {
  const levels = new Map<string, number>();
  if (isJsonObject(value)) {
    for (const [key, raw] of Object.entries(value)) {
      const level = toLevel(raw);
      if (level !== null) {
        levels.set(key, level);
      }
    }
  }
  return levels;
}
