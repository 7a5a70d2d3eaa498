import { describe, expect, it } from 'vitest';
import type { ClientEvent } from '../../../src/matrix/events.ts';
import { eventObjectType } from '../../../src/schema/event.ts';

function event(type: string, stateKey: string | null): ClientEvent {
  return {
    eventId: '$e',
    roomId: '!r:hs',
    type,
    sender: '@a:hs',
    originServerTs: 0,
    content: {},
    stateKey,
    redacts: null,
    unsigned: { age: null, prevContent: null, redactedBecause: null, transactionId: null },
  };
}

describe('eventObjectType', () => {
  it.each([
    ['m.room.message', null, 'MessageEvent'],
    ['m.room.redaction', null, 'RedactionEvent'],
    ['m.room.member', '@b:hs', 'MemberEvent'],
    ['m.room.name', '', 'RoomNameEvent'],
    ['m.room.topic', '', 'RoomTopicEvent'],
    ['m.room.create', '', 'RoomCreateEvent'],
    ['m.room.power_levels', '', 'PowerLevelsEvent'],
    ['m.room.join_rules', '', 'JoinRulesEvent'],
    ['m.room.history_visibility', '', 'HistoryVisibilityEvent'],
    ['m.room.canonical_alias', '', 'CanonicalAliasEvent'],
    ['m.room.avatar', '', 'RoomAvatarEvent'],
    ['org.example.thing', null, 'OtherRoomEvent'],
    ['org.example.thing', 'k', 'OtherStateEvent'],
  ])('should resolve %s with state key %j to %s', (type, stateKey, expected) => {
    expect(eventObjectType(event(type, stateKey))).toBe(expected);
  });

  it('should not make a state event type without a state key a state event', () => {
    expect(eventObjectType(event('m.room.name', null))).toBe('OtherRoomEvent');
    expect(eventObjectType(event('m.room.member', null))).toBe('OtherRoomEvent');
  });

  it('should not make a message type with a state key a message', () => {
    expect(eventObjectType(event('m.room.message', ''))).toBe('OtherStateEvent');
    expect(eventObjectType(event('m.room.redaction', 'x'))).toBe('OtherStateEvent');
  });
});
