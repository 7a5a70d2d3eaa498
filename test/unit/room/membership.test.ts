import { describe, expect, it } from 'vitest';
import {
  isMembership,
  isOwnMembershipChange,
  lastOwnMemberEvent,
  MEMBERSHIP_STATES,
  membershipIn,
} from '../../../src/room/membership.ts';
import { member, message, OWNER, stateEvent } from './room-fixtures.ts';

// event-schemas/schema/m.room.member.yaml: `membership` is one of invite, join, knock, leave, ban.

describe('membership guard', () => {
  it('should know exactly the five states of the spec', () => {
    expect([...MEMBERSHIP_STATES].sort()).toEqual(['ban', 'invite', 'join', 'knock', 'leave']);
    for (const state of MEMBERSHIP_STATES) {
      expect(isMembership(state)).toBe(true);
    }
    expect(isMembership('JOIN')).toBe(false);
    expect(isMembership(null)).toBe(false);
  });

  it('should read an unknown or missing membership as null', () => {
    expect(membershipIn({ membership: 'join' })).toBe('join');
    expect(membershipIn({ membership: 'xyz.custom' })).toBeNull();
    expect(membershipIn({ membership: 1 })).toBeNull();
    expect(membershipIn({})).toBeNull();
    expect(membershipIn(null)).toBeNull();
    expect(membershipIn(undefined)).toBeNull();
  });
});

describe('isOwnMembershipChange', () => {
  it('should count a change of the user’s own membership, optionally to one state', () => {
    const join = member(OWNER, 'join');
    expect(isOwnMembershipChange(join, OWNER)).toBe(true);
    expect(isOwnMembershipChange(join, OWNER, 'join')).toBe(true);
    expect(isOwnMembershipChange(join, OWNER, 'leave')).toBe(false);
    expect(isOwnMembershipChange(join, '@other:hs.test')).toBe(false);
  });

  it('should not count a profile change, an unknown membership or another event type', () => {
    const rename = stateEvent(
      'm.room.member',
      OWNER,
      OWNER,
      { membership: 'join', displayname: 'Owner' },
      { prevContent: { membership: 'join' } },
    );
    expect(isOwnMembershipChange(rename, OWNER)).toBe(false);
    expect(isOwnMembershipChange(member(OWNER, 'xyz.custom'), OWNER)).toBe(false);
    expect(isOwnMembershipChange(message(OWNER, 'hi'), OWNER)).toBe(false);
  });
});

describe('lastOwnMemberEvent', () => {
  it('should find the user’s last member event, or null', () => {
    const invite = member(OWNER, 'invite');
    const join = member(OWNER, 'join');
    const events = [invite, join, member('@other:hs.test', 'join'), message(OWNER, 'hi')];
    expect(lastOwnMemberEvent(events, OWNER)).toBe(join);
    expect(lastOwnMemberEvent(events, '@nobody:hs.test')).toBeNull();
  });
});
