import { describe, expect, it } from 'vitest';
import {
  creatorOf,
  powerLevelsFromContent,
  powerLevelsOf,
  privilegedCreators,
  roomVersionOf,
} from '../../../src/room/power-levels.ts';
import { StateIndex } from '../../../src/room/state-index.ts';
import { create, MODERATOR, OWNER, powerLevels } from './room-fixtures.ts';

const CO = '@co:hs.test';
const ANYONE = '@anyone:hs.test';

const roomOf = (...events: Parameters<typeof StateIndex.fromEvents>[0]) =>
  StateIndex.fromEvents(events);

describe('roomVersionOf', () => {
  // event-schemas/schema/m.room.create.yaml: room_version "Defaults to `"1"` if the key does not
  // exist".
  it("should read the version, '1' when absent, null without a create event", () => {
    expect(roomVersionOf({ room_version: '12' })).toBe('12');
    expect(roomVersionOf({})).toBe('1');
    expect(roomVersionOf({ room_version: 12 })).toBe('1');
    expect(roomVersionOf(null)).toBeNull();
  });
});

describe('creatorOf', () => {
  // m.room.create.yaml: `creator` is "Required for, and only present in, room versions 1 - 10.
  // Starting with room version 11 the event `sender` should be used instead."
  it('should read content.creator before version 11', () => {
    expect(creatorOf({ sender: OWNER, content: { room_version: '10', creator: CO } })).toBe(CO);
    expect(creatorOf({ sender: OWNER, content: { creator: CO } })).toBe(CO);
  });

  it('should take the sender from version 11 on, whatever content says', () => {
    expect(creatorOf({ sender: OWNER, content: { room_version: '11', creator: CO } })).toBe(OWNER);
    expect(creatorOf({ sender: OWNER, content: { room_version: '12', creator: CO } })).toBe(OWNER);
    expect(
      creatorOf({ sender: OWNER, content: { room_version: 'org.matrix.hydra.11', creator: CO } }),
    ).toBe(OWNER);
  });

  it('should fall back to the sender when an older room names no creator', () => {
    expect(creatorOf({ sender: OWNER, content: { room_version: '9' } })).toBe(OWNER);
    expect(creatorOf({ sender: OWNER, content: { room_version: 'org.example.custom' } })).toBe(
      OWNER,
    );
  });
});

describe('privilegedCreators', () => {
  // m.room.create.yaml `additional_creators`: "Starting with room version 12, the other user IDs
  // to consider as creators for the room in addition to the `sender` of this event."
  const createEntry = (content: Record<string, unknown>) => ({ sender: OWNER, content });

  it('should name the sender and the additional creators from version 12 on', () => {
    expect(
      privilegedCreators(createEntry({ room_version: '12', additional_creators: [CO] })),
    ).toEqual(new Set([OWNER, CO]));
    expect(privilegedCreators(createEntry({ room_version: '13' }))).toEqual(new Set([OWNER]));
    expect(privilegedCreators(createEntry({ room_version: 'org.matrix.hydra.11' }))).toEqual(
      new Set([OWNER]),
    );
  });

  it('should ignore additional creators that are not strings', () => {
    expect(
      privilegedCreators(
        createEntry({ room_version: '12', additional_creators: [CO, 7, null, { id: CO }] }),
      ),
    ).toEqual(new Set([OWNER, CO]));
    expect(
      privilegedCreators(createEntry({ room_version: '12', additional_creators: CO })),
    ).toEqual(new Set([OWNER]));
  });

  it('should name nobody before version 12, or without a create event', () => {
    // m.room.create.yaml: "In room versions 1 through 11, this field serves no purpose".
    for (const version of ['1', '11', 'org.example.custom', undefined]) {
      expect(
        privilegedCreators(createEntry({ room_version: version, additional_creators: [CO] })),
      ).toEqual(new Set());
    }
    expect(privilegedCreators(null)).toEqual(new Set());
  });
});

describe('powerLevelsOf', () => {
  // event-schemas/schema/m.room.power_levels.yaml gives every default used here.
  it("should apply the spec's defaults for keys the event leaves out", () => {
    const levels = powerLevelsOf(roomOf(create('11'), powerLevels({})));
    expect(levels).toMatchObject({
      usersDefault: 0,
      eventsDefault: 0,
      stateDefault: 50,
      ban: 50,
      kick: 50,
      invite: 0,
      redact: 50,
    });
    expect(levels.notifications).toEqual(new Map([['room', 50]]));
    expect(levels.users).toEqual(new Map());
    expect(levels.levelOf(OWNER)).toBe(0);
    expect(levels.levelOf(ANYONE)).toBe(0);
  });

  it('should read the levels the event sets', () => {
    const levels = powerLevelsOf(
      roomOf(
        create('11'),
        powerLevels({
          users: { [OWNER]: 100, [MODERATOR]: 50 },
          users_default: 10,
          events: { 'm.room.name': 60 },
          events_default: 5,
          state_default: 40,
          ban: 70,
          kick: 60,
          invite: 20,
          redact: 30,
          notifications: { room: 90, 'org.example.key': 10 },
        }),
      ),
    );
    expect(levels.levelOf(OWNER)).toBe(100);
    expect(levels.levelOf(MODERATOR)).toBe(50);
    expect(levels.levelOf(ANYONE)).toBe(10);
    expect(levels).toMatchObject({ ban: 70, kick: 60, invite: 20, redact: 30 });
    expect(levels.notifications).toEqual(
      new Map([
        ['room', 90],
        ['org.example.key', 10],
      ]),
    );
  });

  it('should accept string levels, ignore junk and keep large levels exact', () => {
    // Room versions before 10 let levels be strings of digits; the spec's range is ±(2^53 − 1).
    const levels = powerLevelsOf(
      roomOf(
        create('9'),
        powerLevels({
          users: {
            '@a:hs.test': '75',
            '@b:hs.test': 'high',
            '@c:hs.test': 2 ** 40,
            '@d:hs.test': -(2 ** 40),
            '@e:hs.test': 2 ** 60,
            '@f:hs.test': '-5',
          },
          kick: '60',
          ban: 1.5,
          invite: null,
        }),
      ),
    );
    expect(levels.levelOf('@a:hs.test')).toBe(75);
    expect(levels.levelOf('@b:hs.test')).toBe(0);
    expect(levels.levelOf('@c:hs.test')).toBe(2 ** 40);
    expect(levels.levelOf('@d:hs.test')).toBe(-(2 ** 40));
    expect(levels.levelOf('@e:hs.test')).toBe(0);
    expect(levels.levelOf('@f:hs.test')).toBe(-5);
    expect(levels.kick).toBe(60);
    expect(levels.ban).toBe(50);
    expect(levels.invite).toBe(0);
  });

  it('should give the creator 100 and everyone else 0 in a room without power levels', () => {
    // m.room.power_levels.yaml `users_default`: "In room versions 1 through 11, when there is no
    // `m.room.power_levels` event in the room, the room creator has a power level of 100".
    const levels = powerLevelsOf(roomOf(create('11')));
    expect(levels.levelOf(OWNER)).toBe(100);
    expect(levels.levelOf(ANYONE)).toBe(0);
    expect(levels.users).toEqual(new Map([[OWNER, 100]]));
    expect(levels.isPrivilegedCreator(OWNER)).toBe(false);
    // "If there is no `state_default` in the `m.room.power_levels` event, or there is no
    // `m.room.power_levels` event, the `state_default` is 50."
    expect(levels.stateDefault).toBe(50);
  });

  it('should take the creator of an older room from content.creator', () => {
    const levels = powerLevelsOf(roomOf(create('5', { creator: CO })));
    expect(levels.levelOf(CO)).toBe(100);
    expect(levels.levelOf(OWNER)).toBe(0);
  });

  it('should give everyone the defaults without a create event or power levels', () => {
    const levels = powerLevelsOf(StateIndex.fromEvents([]));
    expect(levels.levelOf(OWNER)).toBe(0);
    expect(levels.privilegedCreators).toEqual(new Set());
  });

  it('should make the creators of a version 12 room unlimited, with or without power levels', () => {
    // m.room.power_levels.yaml `users_default`: "In room versions 12 and higher, room creators have
    // infinite power level regardless of the existence of `m.room.power_levels`".
    const createEvent = create('12', { additional_creators: [CO] });
    for (const state of [
      roomOf(createEvent),
      roomOf(createEvent, powerLevels({ users: { [MODERATOR]: 100 } })),
    ]) {
      const levels = powerLevelsOf(state);
      expect(levels.levelOf(OWNER)).toBe(Number.POSITIVE_INFINITY);
      expect(levels.levelOf(CO)).toBe(Number.POSITIVE_INFINITY);
      expect(levels.isPrivilegedCreator(OWNER)).toBe(true);
      expect(levels.isPrivilegedCreator(CO)).toBe(true);
      expect(levels.isPrivilegedCreator(MODERATOR)).toBe(false);
      expect(levels.privilegedCreators).toEqual(new Set([OWNER, CO]));
      // "In room versions 12 and higher it is not permitted to specify the room creators here."
      expect(levels.users.has(OWNER)).toBe(false);
      expect(levels.users.has(CO)).toBe(false);
      expect(levels.levelOf(ANYONE)).toBe(0);
    }
  });

  it('should give additional creators of a version 11 room no privilege', () => {
    const levels = powerLevelsOf(
      roomOf(create('11', { additional_creators: [CO] }), powerLevels({ users: { [OWNER]: 100 } })),
    );
    expect(levels.levelOf(OWNER)).toBe(100);
    expect(levels.levelOf(CO)).toBe(0);
    expect(levels.isPrivilegedCreator(OWNER)).toBe(false);
    expect(levels.isPrivilegedCreator(CO)).toBe(false);
  });

  it('should read the level to send an event from events, else the state or event default', () => {
    // m.room.power_levels.yaml: "If the event type is not supplied, it defaults to
    // `events_default` for message events and `state_default` for state events."
    const levels = powerLevelsOf(
      roomOf(
        create('11'),
        powerLevels({ events: { 'm.room.name': 75, 'm.reaction': 10 }, events_default: 5 }),
      ),
    );
    expect(levels.levelFor('m.room.name', true)).toBe(75);
    expect(levels.levelFor('m.reaction', false)).toBe(10);
    expect(levels.levelFor('m.room.topic', true)).toBe(50);
    expect(levels.levelFor('m.room.message', false)).toBe(5);
  });
});

describe('powerLevelsFromContent', () => {
  it('should read one event on its own, with no creators', () => {
    const levels = powerLevelsFromContent({ users: { [OWNER]: 100 }, kick: 25 });
    expect(levels.levelOf(OWNER)).toBe(100);
    expect(levels.kick).toBe(25);
    expect(levels.stateDefault).toBe(50);
    expect(levels.privilegedCreators).toEqual(new Set());
  });
});
