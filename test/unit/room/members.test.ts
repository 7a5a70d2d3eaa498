import { describe, expect, it } from 'vitest';
import { roomMembers } from '../../../src/room/members.ts';
import { powerLevelsOf } from '../../../src/room/power-levels.ts';
import { StateIndex } from '../../../src/room/state-index.ts';
import { create, MODERATOR, member, OWNER, powerLevels } from './room-fixtures.ts';

const ALICE = '@alice:hs.test';
const BOB = '@bob:hs.test';

function members(state: StateIndex, membership?: 'join' | 'invite') {
  return roomMembers(state, powerLevelsOf(state), membership).map((entry) => ({
    userId: entry.userId,
    membership: entry.membership,
    powerLevel: entry.powerLevel,
    isPrivilegedCreator: entry.isPrivilegedCreator,
  }));
}

describe('roomMembers', () => {
  it('should list the highest level first, then by display name, then by user ID', () => {
    const state = StateIndex.fromEvents([
      create('11'),
      powerLevels({ users: { [OWNER]: 100, [MODERATOR]: 50 } }),
      member(OWNER, 'join', { displayname: 'Zed' }),
      member(BOB, 'join', { displayname: 'ann' }),
      member(ALICE, 'join', { displayname: 'Ann' }),
      member(MODERATOR, 'join'),
    ]);
    expect(members(state).map((entry) => [entry.userId, entry.powerLevel])).toEqual([
      [OWNER, 100],
      [MODERATOR, 50],
      [ALICE, 0],
      [BOB, 0],
    ]);
  });

  it('should put the privileged creators of a version 12 room above a level-100 admin', () => {
    // m.room.create.yaml: from room version 12, the sender and `additional_creators` have
    // unlimited power and are not listed in m.room.power_levels.
    const state = StateIndex.fromEvents([
      create('12', { additional_creators: [BOB] }),
      powerLevels({ users: { [MODERATOR]: 100 } }),
      member(MODERATOR, 'join'),
      member(BOB, 'join'),
      member(OWNER, 'join'),
    ]);
    expect(members(state)).toEqual([
      { userId: BOB, membership: 'join', powerLevel: Infinity, isPrivilegedCreator: true },
      { userId: OWNER, membership: 'join', powerLevel: Infinity, isPrivilegedCreator: true },
      { userId: MODERATOR, membership: 'join', powerLevel: 100, isPrivilegedCreator: false },
    ]);
  });

  it('should keep only the members in the membership asked for', () => {
    const state = StateIndex.fromEvents([
      create('11'),
      member(OWNER, 'join'),
      member(ALICE, 'invite'),
      member(BOB, 'leave'),
    ]);
    expect(members(state, 'invite').map((entry) => entry.userId)).toEqual([ALICE]);
  });

  it('should leave out a member event whose membership the spec does not define', () => {
    // m.room.member.yaml: membership is one of invite, join, knock, leave, ban.
    const state = StateIndex.fromEvents([
      create('11'),
      member(OWNER, 'join'),
      member(ALICE, 'lurking'),
    ]);
    expect(members(state).map((entry) => entry.userId)).toEqual([OWNER]);
  });
});
