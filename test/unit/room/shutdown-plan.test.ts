import { describe, expect, it } from 'vitest';
import type { ClientEvent } from '../../../src/matrix/events.ts';
import { planShutdown } from '../../../src/room/shutdown-plan.ts';
import { StateIndex } from '../../../src/room/state-index.ts';
import { create, MODERATOR, member, OWNER, powerLevels, stateEvent } from './room-fixtures.ts';

/** A room of `OWNER` (100) and `MODERATOR` (50), Synapse's default levels; version 11 unless said. */
function room(
  extra: ClientEvent[] = [],
  options: { version?: string; users?: Record<string, number>; creators?: string[] } = {},
) {
  return StateIndex.fromEvents([
    create(
      options.version ?? '11',
      options.creators ? { additional_creators: options.creators } : {},
    ),
    powerLevels({
      users: options.users ?? { [OWNER]: 100, [MODERATOR]: 50 },
      kick: 50,
      state_default: 50,
      events: { 'm.room.join_rules': 50, 'm.room.power_levels': 100 },
    }),
    stateEvent('m.room.join_rules', '', OWNER, { join_rule: 'public' }),
    member(OWNER, 'join'),
    ...extra,
  ]);
}

describe('planShutdown', () => {
  it('should remove every other joined, invited or knocking member, and close the room', () => {
    const state = room([
      member(MODERATOR, 'join'),
      member('@joined:hs.test', 'join'),
      member('@invited:hs.test', 'invite'),
      member('@knocking:hs.test', 'knock'),
      member('@gone:hs.test', 'leave'),
      member('@banned:hs.test', 'ban'),
      member('@odd:hs.test', 'xyz.custom'),
    ]);
    expect(planShutdown(state, OWNER)).toEqual({
      allowed: true,
      plan: {
        removals: ['@invited:hs.test', '@joined:hs.test', '@knocking:hs.test', MODERATOR],
        closeJoinRule: true,
      },
    });
  });

  it('should leave the join rule alone when the room is already invite-only', () => {
    const state = room([
      stateEvent('m.room.join_rules', '', OWNER, { join_rule: 'invite' }),
      member('@joined:hs.test', 'join'),
    ]);
    expect(planShutdown(state, OWNER)).toEqual({
      allowed: true,
      plan: { removals: ['@joined:hs.test'], closeJoinRule: false },
    });
  });

  it('should refuse a member below the kick level', () => {
    const decision = planShutdown(room([member('@joined:hs.test', 'join')]), '@joined:hs.test');
    expect(decision).toEqual({
      allowed: false,
      reason: 'Deleting a room takes the power to kick (level 50); yours is 0.',
    });
  });

  it('should refuse someone who is not joined, whatever their level', () => {
    const refusal = { allowed: false, reason: 'You must be joined to the room to delete it.' };
    expect(planShutdown(room([member(MODERATOR, 'leave')]), MODERATOR)).toEqual(refusal);
    expect(planShutdown(room(), '@stranger:hs.test')).toEqual(refusal);
    expect(planShutdown(room([member(MODERATOR, 'xyz.custom')]), MODERATOR)).toEqual(refusal);
  });

  it('should refuse when a member to remove is not below the viewer', () => {
    // The auth rules let a member kick only users whose level is lower than their own.
    const state = room([member(MODERATOR, 'join'), member('@peer:hs.test', 'invite')], {
      users: { [OWNER]: 100, [MODERATOR]: 50, '@peer:hs.test': 50 },
    });
    expect(planShutdown(state, MODERATOR)).toEqual({
      allowed: false,
      reason: `You cannot remove 2 members whose power level is not below yours (${OWNER}, @peer:hs.test).`,
    });
  });

  it('should refuse a kicker who may not change the join rule, unless it is invite already', () => {
    const events = [
      create('11'),
      powerLevels({
        users: { [OWNER]: 100, [MODERATOR]: 50 },
        kick: 50,
        events: { 'm.room.join_rules': 100 },
      }),
      member(MODERATOR, 'join'),
      member('@joined:hs.test', 'join'),
    ];
    expect(planShutdown(StateIndex.fromEvents(events), MODERATOR)).toEqual({
      allowed: false,
      reason: 'Deleting a room makes it invite-only, which takes level 100; yours is 50.',
    });
    const inviteOnly = [
      ...events,
      stateEvent('m.room.join_rules', '', OWNER, { join_rule: 'invite' }),
    ];
    expect(planShutdown(StateIndex.fromEvents(inviteOnly), MODERATOR)).toEqual({
      allowed: true,
      plan: { removals: ['@joined:hs.test'], closeJoinRule: false },
    });
  });

  it('should let the creator of a room without power levels shut it down', () => {
    // m.room.power_levels.yaml: without the event the creator has 100, kick is 50.
    const state = StateIndex.fromEvents([
      create('11'),
      member(OWNER, 'join'),
      member('@joined:hs.test', 'join'),
    ]);
    expect(planShutdown(state, OWNER)).toEqual({
      allowed: true,
      plan: { removals: ['@joined:hs.test'], closeJoinRule: true },
    });
  });

  it('should let a version 12 creator shut the room down, unlisted in the power levels', () => {
    // m.room.power_levels.yaml: "room creators have infinite power level" from version 12 on.
    const state = room(
      [member(MODERATOR, 'join'), member('@co:hs.test', 'join'), member('@joined:hs.test', 'join')],
      { version: '12', users: { [MODERATOR]: 100 } },
    );
    expect(planShutdown(state, OWNER)).toEqual({
      allowed: true,
      plan: { removals: ['@co:hs.test', '@joined:hs.test', MODERATOR], closeJoinRule: true },
    });
  });

  it('should never let a level 100 admin remove a version 12 creator', () => {
    const state = room([member(MODERATOR, 'join'), member('@co:hs.test', 'join')], {
      version: '12',
      users: { [MODERATOR]: 100 },
      creators: ['@co:hs.test'],
    });
    expect(planShutdown(state, MODERATOR)).toEqual({
      allowed: false,
      reason: `You cannot remove 2 members whose power level is not below yours (@co:hs.test, ${OWNER}).`,
    });
  });

  it('should not let one version 12 creator remove another', () => {
    const state = room([member('@co:hs.test', 'join')], {
      version: '12',
      creators: ['@co:hs.test'],
    });
    expect(planShutdown(state, OWNER)).toMatchObject({ allowed: false });
  });

  it('should give additional creators of a version 11 room no power', () => {
    const state = room([member('@co:hs.test', 'join')], { creators: ['@co:hs.test'] });
    expect(planShutdown(state, '@co:hs.test')).toEqual({
      allowed: false,
      reason: 'Deleting a room takes the power to kick (level 50); yours is 0.',
    });
    expect(planShutdown(state, OWNER)).toMatchObject({ allowed: true });
  });
});
