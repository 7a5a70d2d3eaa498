import { describe, expect, it } from 'vitest';
import type { ClientEvent } from '../../../src/matrix/events.ts';
import { planShutdown, unlimitedCreators } from '../../../src/schema/delete-room.ts';
import { StateIndex } from '../../../src/schema/state-index.ts';

const owner = '@owner:hs';
const moderator = '@moderator:hs';

function stateEvent(
  type: string,
  stateKey: string,
  sender: string,
  content: Record<string, unknown>,
): ClientEvent {
  return {
    eventId: `$${type}-${stateKey}`,
    roomId: '!room:hs',
    type,
    sender,
    originServerTs: 0,
    content,
    stateKey,
    redacts: null,
    unsigned: { age: null, prevContent: null, redactedBecause: null, transactionId: null },
  };
}

const member = (userId: string, membership: string) =>
  stateEvent('m.room.member', userId, userId, { membership });

/** A version 11 room of `owner` (100) and `moderator` (50), Synapse's default levels. */
function room(
  extra: ClientEvent[] = [],
  options: { version?: string; users?: Record<string, number> } = {},
) {
  return StateIndex.fromEvents([
    stateEvent('m.room.create', '', owner, { room_version: options.version ?? '11' }),
    stateEvent('m.room.power_levels', '', owner, {
      users: options.users ?? { [owner]: 100, [moderator]: 50 },
      kick: 50,
      state_default: 50,
      events: { 'm.room.join_rules': 50, 'm.room.power_levels': 100 },
    }),
    stateEvent('m.room.join_rules', '', owner, { join_rule: 'public' }),
    member(owner, 'join'),
    ...extra,
  ]);
}

describe('planShutdown', () => {
  it('should remove every other joined, invited or knocking member, and close the room', () => {
    const state = room([
      member(moderator, 'join'),
      member('@joined:hs', 'join'),
      member('@invited:hs', 'invite'),
      member('@knocking:hs', 'knock'),
      member('@gone:hs', 'leave'),
      member('@banned:hs', 'ban'),
    ]);
    expect(planShutdown(state, owner)).toEqual({
      allowed: true,
      plan: {
        removals: ['@invited:hs', '@joined:hs', '@knocking:hs', moderator],
        closeJoinRule: true,
      },
    });
  });

  it('should leave the join rule alone when the room is already invite-only', () => {
    const state = room([
      stateEvent('m.room.join_rules', '', owner, { join_rule: 'invite' }),
      member('@joined:hs', 'join'),
    ]);
    expect(planShutdown(state, owner)).toEqual({
      allowed: true,
      plan: { removals: ['@joined:hs'], closeJoinRule: false },
    });
  });

  it('should refuse a member below the kick level', () => {
    const decision = planShutdown(room([member('@joined:hs', 'join')]), '@joined:hs');
    expect(decision).toEqual({
      allowed: false,
      reason: 'Deleting a room takes the power to kick (level 50); yours is 0.',
    });
  });

  it('should refuse someone who is not joined, whatever their level', () => {
    const state = room([member(moderator, 'leave')]);
    expect(planShutdown(state, moderator)).toMatchObject({ allowed: false });
    expect(planShutdown(room(), '@stranger:hs')).toMatchObject({ allowed: false });
  });

  it('should refuse when a member to remove is not below the viewer', () => {
    const state = room([member(moderator, 'join'), member('@peer:hs', 'invite')], {
      users: { [owner]: 100, [moderator]: 50, '@peer:hs': 50 },
    });
    expect(planShutdown(state, moderator)).toEqual({
      allowed: false,
      reason: `You cannot remove 2 members whose power level is not below yours (${owner}, @peer:hs).`,
    });
  });

  it('should refuse a kicker who may not change the join rule, unless it is invite already', () => {
    const events = [
      stateEvent('m.room.create', '', owner, { room_version: '11' }),
      stateEvent('m.room.power_levels', '', owner, {
        users: { [owner]: 100, [moderator]: 50 },
        kick: 50,
        events: { 'm.room.join_rules': 100 },
      }),
      member(moderator, 'join'),
      member('@joined:hs', 'join'),
    ];
    expect(planShutdown(StateIndex.fromEvents(events), moderator)).toEqual({
      allowed: false,
      reason: 'Deleting a room makes it invite-only, which takes level 100; yours is 50.',
    });
    const inviteOnly = [
      ...events,
      stateEvent('m.room.join_rules', '', owner, { join_rule: 'invite' }),
    ];
    expect(planShutdown(StateIndex.fromEvents(inviteOnly), moderator)).toEqual({
      allowed: true,
      plan: { removals: ['@joined:hs'], closeJoinRule: false },
    });
  });

  it('should give the creators of a version 12 room unlimited power', () => {
    const state = room(
      [member(moderator, 'join'), member('@co:hs', 'join'), member('@joined:hs', 'join')],
      { version: '12', users: { [moderator]: 100 } },
    );
    // The sender of the create event is never listed in m.room.power_levels from version 12 on.
    expect(planShutdown(state, owner)).toMatchObject({
      allowed: true,
      plan: { removals: ['@co:hs', '@joined:hs', moderator] },
    });
    expect(planShutdown(state, moderator)).toMatchObject({ allowed: false });
  });
});

describe('unlimitedCreators', () => {
  const create = (content: Record<string, unknown>) =>
    ({ type: 'm.room.create', stateKey: '', sender: owner, content, event: null }) as const;

  it('should name the sender and additional creators from version 12 on', () => {
    expect(
      unlimitedCreators(create({ room_version: '12', additional_creators: ['@co:hs', 7] })),
    ).toEqual(new Set([owner, '@co:hs']));
    expect(unlimitedCreators(create({ room_version: 'org.matrix.hydra.11' }))).toEqual(
      new Set([owner]),
    );
  });

  it('should name nobody before version 12, or without a create event', () => {
    for (const version of ['1', '11', 'org.example.custom', undefined]) {
      expect(unlimitedCreators(create({ room_version: version }))).toEqual(new Set());
    }
    expect(unlimitedCreators(null)).toEqual(new Set());
  });
});
