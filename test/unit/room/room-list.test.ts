import { describe, expect, it } from 'vitest';
import type { SyncResponse } from '../../../src/matrix/sync.ts';
import { joinedRoomTags } from '../../../src/matrix/tags.ts';
import {
  byActivity,
  fullStateFilter,
  fullStatesFrom,
  inviteListing,
  type RoomListing,
  roomListFilter,
  roomListFrom,
} from '../../../src/room/room-list.ts';
import { member, message, OWNER, stateEvent } from './room-fixtures.ts';

const ME = '@me:hs.test';
const named = (name: string, ts = 0) => stateEvent('m.room.name', '', OWNER, { name }, { ts });

/**
 * A scripted initial sync (client-server/sync.yaml): two joined rooms, one left, one invite, one
 * knock, and `m.direct`.
 */
function scriptedSync(): SyncResponse {
  return {
    nextBatch: 's1',
    join: new Map([
      [
        '!quiet:hs.test',
        {
          summary: { heroes: null, joinedMemberCount: 2, invitedMemberCount: 1 },
          state: [named('Quiet', 100), member(ME, 'join')],
          timeline: { events: [message(OWNER, 'old', 1_000)], limited: false, prevBatch: null },
          ephemeral: [],
          accountData: [
            { type: 'm.tag', content: { tags: { 'u.work': {}, 'm.favourite': { order: 0.5 } } } },
          ],
          unreadNotifications: { notificationCount: 0, highlightCount: 0 },
        },
      ],
      [
        '!busy:hs.test',
        {
          summary: { heroes: null, joinedMemberCount: 5, invitedMemberCount: null },
          state: [named('Busy before', 200)],
          // Timeline state is newer than the state block.
          timeline: { events: [named('Busy', 5_000)], limited: true, prevBatch: 'p1' },
          ephemeral: [],
          accountData: [],
          unreadNotifications: { notificationCount: 0, highlightCount: 0 },
        },
      ],
    ]),
    leave: new Map([
      [
        '!left:hs.test',
        {
          state: [named('Left', 300)],
          timeline: { events: [member(ME, 'leave')], limited: false, prevBatch: null },
        },
      ],
    ]),
    invite: new Map([
      [
        '!invited:hs.test',
        {
          inviteState: [
            { type: 'm.room.name', stateKey: '', sender: OWNER, content: { name: 'Invited' } },
          ],
        },
      ],
    ]),
    knock: new Map([
      [
        '!knocked:hs.test',
        {
          knockState: [
            { type: 'm.room.name', stateKey: '', sender: OWNER, content: { name: 'Knocked' } },
          ],
        },
      ],
    ]),
    accountData: [
      { type: 'm.push_rules', content: {} },
      { type: 'm.direct', content: { [OWNER]: ['!quiet:hs.test', 3] } },
    ],
  };
}

describe('room list filters', () => {
  it('should ask for the newest event, lazy-loaded members, m.tag and m.direct', () => {
    expect(roomListFilter(false)).toEqual({
      room: {
        includeLeave: false,
        timeline: { limit: 1 },
        state: { lazyLoadMembers: true },
        accountData: { types: ['m.tag'] },
      },
      accountData: { types: ['m.direct'] },
    });
    expect(roomListFilter(true).room.includeLeave).toBe(true);
  });

  it('should ask for exactly the given rooms, left ones included, and no account data', () => {
    const roomIds = ['!a:hs.test', '!b:hs.test'];
    const filter = fullStateFilter(roomIds);
    expect(filter).toEqual({
      room: { rooms: roomIds, includeLeave: true, timeline: { limit: 1 } },
      accountData: { notTypes: ['*'] },
    });
    expect(filter.room.rooms).not.toBe(roomIds);
  });
});

describe('roomListFrom', () => {
  const list = roomListFrom(scriptedSync());

  it('should list every room with its membership', () => {
    expect(list.rooms.map((room) => [room.roomId, room.membership])).toEqual([
      ['!quiet:hs.test', 'join'],
      ['!busy:hs.test', 'join'],
      ['!left:hs.test', 'leave'],
      ['!invited:hs.test', 'invite'],
      ['!knocked:hs.test', 'knock'],
    ]);
  });

  it('should apply timeline state over the state block, and read stripped state', () => {
    const nameOf = (roomId: string) =>
      list.rooms.find((room) => room.roomId === roomId)?.state.content('m.room.name')?.['name'];
    expect(nameOf('!busy:hs.test')).toBe('Busy');
    expect(nameOf('!left:hs.test')).toBe('Left');
    expect(nameOf('!invited:hs.test')).toBe('Invited');
    expect(nameOf('!knocked:hs.test')).toBe('Knocked');
  });

  it('should take member counts from a joined room’s summary only', () => {
    expect(list.rooms.map((room) => [room.joinedMemberCount, room.invitedMemberCount])).toEqual([
      [2, 1],
      [5, null],
      [null, null],
      [null, null],
      [null, null],
    ]);
  });

  it('should date each room by its newest event, invites and knocks at 0', () => {
    expect(list.rooms.map((room) => room.lastActivityTs)).toEqual([1_000, 5_000, 300, 0, 0]);
  });

  it('should give joined rooms their tags (none without m.tag), and leave the others’ unknown', () => {
    const synced = scriptedSync();
    const tagged = roomListFrom(synced, joinedRoomTags(synced));
    expect(list.rooms.every((room) => room.tags === undefined)).toBe(true);
    expect(tagged.rooms.map((room) => room.tags)).toEqual([
      [
        { name: 'm.favourite', order: 0.5 },
        { name: 'u.work', order: null },
      ],
      [],
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('should read m.direct from the account data', () => {
    expect(list.direct).toEqual(new Map([[OWNER, ['!quiet:hs.test']]]));
  });

  it('should have no direct rooms without m.direct', () => {
    expect(roomListFrom({ ...scriptedSync(), accountData: [] }).direct).toEqual(new Map());
  });
});

describe('byActivity', () => {
  it('should keep one membership, newest activity first, then by room ID', () => {
    const { rooms } = roomListFrom(scriptedSync());
    const tie: RoomListing = {
      ...inviteListing('!a-tie:hs.test', []),
      membership: 'join',
      lastActivityTs: 1_000,
    };
    const joined = byActivity([...rooms, tie], 'join');
    expect(joined.map((room) => room.roomId)).toEqual([
      '!busy:hs.test',
      '!a-tie:hs.test',
      '!quiet:hs.test',
    ]);
    expect(byActivity(rooms, 'leave').map((room) => room.roomId)).toEqual(['!left:hs.test']);
    expect(byActivity(rooms, 'ban')).toEqual([]);
  });
});

describe('inviteListing', () => {
  it('should list an invite from its stripped state', () => {
    const listing = inviteListing('!invited:hs.test', [
      {
        type: 'm.room.member',
        stateKey: ME,
        sender: OWNER,
        content: { membership: 'invite', is_direct: true },
      },
    ]);
    expect(listing).toMatchObject({
      roomId: '!invited:hs.test',
      membership: 'invite',
      joinedMemberCount: null,
      invitedMemberCount: null,
      lastActivityTs: 0,
    });
    expect(listing.state.content('m.room.member', ME)).toEqual({
      membership: 'invite',
      is_direct: true,
    });
  });
});

describe('fullStatesFrom', () => {
  it('should give each joined and left room its state, members included', () => {
    const states = fullStatesFrom(scriptedSync());
    expect([...states.keys()]).toEqual(['!quiet:hs.test', '!busy:hs.test', '!left:hs.test']);
    expect(states.get('!quiet:hs.test')?.content('m.room.member', ME)).toEqual({
      membership: 'join',
    });
    expect(states.get('!busy:hs.test')?.content('m.room.name')).toEqual({ name: 'Busy' });
    expect(states.get('!left:hs.test')?.content('m.room.member', ME)).toEqual({
      membership: 'leave',
    });
  });
});
