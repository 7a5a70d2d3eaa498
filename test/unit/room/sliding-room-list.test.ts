import { describe, expect, it } from 'vitest';
import type { SlidingSyncResponse, SlidingSyncRoom } from '../../../src/matrix/sliding-sync.ts';
import {
  INVITES_LIST,
  type KeyedPageRequest,
  keyedPage,
  LIST_RANGE_END,
  LISTING_STATE_TYPES,
  listCovers,
  ROOMS_LIST,
  recencyKey,
  type SlidingRoomList,
  slidingRoomListFrom,
  slidingRoomListRequest,
} from '../../../src/room/sliding-room-list.ts';
import { LISTING_STATE_BY_FIELD } from '../../../src/schema/room.ts';
import { member, message, OWNER, stateEvent } from './room-fixtures.ts';

const ME = '@me:hs.test';

function room(overrides: Partial<SlidingSyncRoom> = {}): SlidingSyncRoom {
  return {
    bumpStamp: 1,
    name: null,
    isDm: false,
    joinedCount: 1,
    invitedCount: 0,
    notificationCount: 0,
    highlightCount: 0,
    requiredState: [member(ME, 'join')],
    timeline: [],
    limited: true,
    strippedState: null,
    ...overrides,
  };
}

function joined(name: string, bumpStamp: number, extra: Partial<SlidingSyncRoom> = {}) {
  return room({
    bumpStamp,
    requiredState: [stateEvent('m.room.name', '', OWNER, { name }), member(ME, 'join')],
    ...extra,
  });
}

/** A response with `rooms` in the rooms list and `invites` in the invites list. */
function response(
  rooms: Record<string, SlidingSyncRoom>,
  invites: Record<string, SlidingSyncRoom> = {},
  counts: { rooms?: number; invites?: number } = {},
): SlidingSyncResponse {
  return {
    pos: 'p1',
    lists: new Map([
      [
        ROOMS_LIST,
        { count: counts.rooms ?? Object.keys(rooms).length, roomIds: Object.keys(rooms) },
      ],
      [
        INVITES_LIST,
        { count: counts.invites ?? Object.keys(invites).length, roomIds: Object.keys(invites) },
      ],
    ]),
    rooms: new Map(Object.entries({ ...rooms, ...invites })),
    roomTags: null,
  };
}

const ids = (list: SlidingRoomList, membership: 'join' | 'invite' | 'knock' = 'join') =>
  list.rooms
    .filter((entry) => entry.listing.membership === membership)
    .map((e) => e.listing.roomId);

describe('slidingRoomListRequest', () => {
  it('should ask both lists whole, with every listing state type and the own member event, no timeline', () => {
    const request = slidingRoomListRequest();
    const expectedState = [
      ...LISTING_STATE_TYPES.map((type) => [type, '']),
      ['m.room.member', '$ME'],
    ];
    expect(request.lists[ROOMS_LIST]).toEqual({
      ranges: [[0, LIST_RANGE_END]],
      requiredState: expectedState,
      timelineLimit: 0,
      filters: { isInvite: false },
    });
    expect(request.lists[INVITES_LIST]).toMatchObject({ filters: { isInvite: true } });
    // Every type a Room field reads from a listing, and no other: the default list is the
    // union of what the fields declare (src/schema/room.ts), so a new field cannot miss its type.
    expect(new Set(LISTING_STATE_TYPES)).toEqual(
      new Set(Object.values(LISTING_STATE_BY_FIELD).flat()),
    );
    expect(LISTING_STATE_TYPES).toEqual(
      expect.arrayContaining([
        'm.room.name',
        'm.room.topic',
        'm.room.avatar',
        'm.room.canonical_alias',
        'm.room.join_rules',
        'm.room.history_visibility',
        'm.room.guest_access',
        'm.room.create',
        'm.room.encryption',
        'm.room.power_levels',
      ]),
    );
  });
});

describe('a room list asking for some state types', () => {
  it('should ask for those types and the own member event, and mark the listings with them', () => {
    const request = slidingRoomListRequest({ stateTypes: ['m.room.name'] });
    expect(request.lists[ROOMS_LIST]?.requiredState).toEqual([
      ['m.room.name', ''],
      ['m.room.member', '$ME'],
    ]);
    const list = slidingRoomListFrom(response({ '!a:hs.test': joined('A', 1) }), {
      stateTypes: ['m.room.name'],
    });
    expect(list.rooms[0]?.listing.stateTypes).toEqual(new Set(['m.room.name']));
    // Without a choice, the listing holds every listing type (no mark).
    expect(
      slidingRoomListFrom(response({ '!a:hs.test': joined('A', 1) })).rooms[0]?.listing.stateTypes,
    ).toBeUndefined();
  });

  it('should let a list fetched with more answer for less, never the other way', () => {
    const wide = { stateTypes: ['m.room.name', 'm.room.topic'], timelineLimit: 4 };
    expect(listCovers(wide, { stateTypes: ['m.room.topic'], timelineLimit: 2 })).toBe(true);
    expect(listCovers(wide, { stateTypes: ['m.room.avatar'] })).toBe(false);
    expect(listCovers(wide, { stateTypes: ['m.room.name'], timelineLimit: 5 })).toBe(false);
    // No types named means all of them.
    expect(listCovers({}, { stateTypes: ['m.room.power_levels'] })).toBe(true);
    expect(listCovers(wide, {})).toBe(false);
  });
});

describe("a room list with its rooms' newest events", () => {
  it('should ask joined rooms (not invites) for the timeline, capped at a page and one', () => {
    const request = slidingRoomListRequest({ timelineLimit: 6 });
    expect(request.lists[ROOMS_LIST]?.timelineLimit).toBe(6);
    expect(request.lists[INVITES_LIST]?.timelineLimit).toBe(0);
    expect(slidingRoomListRequest({ timelineLimit: 5000 }).lists[ROOMS_LIST]?.timelineLimit).toBe(
      101,
    );
  });

  it("should keep each joined room's events, and whether they are its whole history", () => {
    const events = [message(OWNER, 'one'), message(OWNER, 'two')];
    const answer = response({
      '!all:hs.test': joined('All', 2, { timeline: events, limited: false }),
      '!more:hs.test': joined('More', 1, { timeline: events, limited: true }),
    });

    const withTimeline = slidingRoomListFrom(answer, { timelineLimit: 3 });
    expect(
      withTimeline.rooms.map((room) => [room.listing.roomId, room.listing.recentEvents]),
    ).toEqual([
      ['!all:hs.test', { events, complete: true }],
      ['!more:hs.test', { events, complete: false }],
    ]);
    // Not asked for: nothing to go by (an empty timeline would read as an empty history).
    expect(slidingRoomListFrom(answer).rooms.map((room) => room.listing.recentEvents)).toEqual([
      undefined,
      undefined,
    ]);
  });
});

describe("a room list with its rooms' member lists", () => {
  it('should ask joined rooms (not invites) for every member event and what ranks them', () => {
    const request = slidingRoomListRequest({ stateTypes: ['m.room.name'], members: true });
    expect(request.lists[ROOMS_LIST]?.requiredState).toEqual([
      ['m.room.name', ''],
      ['m.room.power_levels', ''],
      ['m.room.create', ''],
      ['m.room.member', '*'],
    ]);
    expect(request.lists[INVITES_LIST]?.requiredState).toEqual([
      ['m.room.name', ''],
      ['m.room.member', '$ME'],
    ]);
  });

  it("should read the viewer's membership from their own member event among the others", () => {
    const others = (own: 'join' | 'leave') =>
      room({
        requiredState: [member(OWNER, 'join'), member(ME, own), member('@zed:hs.test', 'join')],
      });
    const answer = response({ '!in:hs.test': others('join'), '!out:hs.test': others('leave') });
    const list = slidingRoomListFrom(answer, { stateTypes: [], members: true }, ME);
    expect(list.rooms.map((listed) => listed.listing.roomId)).toEqual(['!in:hs.test']);
    expect(list.rooms[0]?.listing).toMatchObject({
      membership: 'join',
      allMembers: true,
      stateTypes: new Set(['m.room.power_levels', 'm.room.create']),
    });
    expect(() => slidingRoomListFrom(answer, { members: true })).toThrow(/user ID/);
  });

  it('should let a list with members answer for one without, never the other way', () => {
    expect(listCovers({ members: true }, {})).toBe(true);
    expect(listCovers({}, { members: true })).toBe(false);
  });
});

describe("a room list with the viewer's tags", () => {
  it('should ask the account data extension for both lists, and nothing without tags', () => {
    expect(slidingRoomListRequest({ tags: true }).extensions).toEqual({
      accountData: { lists: [ROOMS_LIST, INVITES_LIST], rooms: [] },
    });
    expect(slidingRoomListRequest({}).extensions).toBeUndefined();
  });

  it('should give each covered room its tags, and leave a room not covered unknown', () => {
    const answer: SlidingSyncResponse = {
      ...response(
        { '!tagged:hs.test': joined('T', 3), '!plain:hs.test': joined('P', 2) },
        { '!invite:hs.test': room({ strippedState: [], requiredState: [] }) },
      ),
      roomTags: new Map([
        [
          '!tagged:hs.test',
          [
            { name: 'm.favourite', order: 0.1 },
            { name: 'u.b', order: null },
          ],
        ],
        ['!plain:hs.test', []],
      ]),
    };
    const tagsOf = (list: SlidingRoomList) =>
      list.rooms.map((listed) => [listed.listing.roomId, listed.listing.tags]);
    expect(tagsOf(slidingRoomListFrom(answer, { tags: true }))).toEqual([
      [
        '!tagged:hs.test',
        [
          { name: 'm.favourite', order: 0.1 },
          { name: 'u.b', order: null },
        ],
      ],
      ['!plain:hs.test', []],
      ['!invite:hs.test', undefined],
    ]);
    // Not asked for: the listing says nothing of tags, whatever the answer holds.
    expect(tagsOf(slidingRoomListFrom(answer)).every(([, tags]) => tags === undefined)).toBe(true);
  });

  it('should let a list with tags answer for one without, never the other way', () => {
    expect(listCovers({ tags: true }, {})).toBe(true);
    expect(listCovers({}, { tags: true })).toBe(false);
  });
});

describe('slidingRoomListFrom', () => {
  it('should order by bump_stamp, most recent first, then by room ID, whatever order the server gave', () => {
    const list = slidingRoomListFrom(
      response({
        '!b:hs.test': joined('B', 5),
        '!old:hs.test': joined('Old', 1),
        '!a:hs.test': joined('A', 5),
        '!new:hs.test': joined('New', 9),
        '!none:hs.test': room({ bumpStamp: null }),
      }),
    );
    expect(ids(list)).toEqual([
      '!new:hs.test',
      '!a:hs.test',
      '!b:hs.test',
      '!old:hs.test',
      '!none:hs.test',
    ]);
    expect(list.complete).toBe(true);
  });

  it('should read listings as the Room fields expect them', () => {
    const list = slidingRoomListFrom(
      response(
        {
          '!dm:hs.test': joined('Chat', 3, { isDm: true, joinedCount: 2, invitedCount: 1 }),
          '!knock:hs.test': room({
            bumpStamp: 2,
            requiredState: [],
            strippedState: [
              { type: 'm.room.name', stateKey: '', sender: OWNER, content: { name: 'Knocked' } },
            ],
          }),
        },
        {
          '!invite:hs.test': room({
            bumpStamp: 4,
            requiredState: [],
            joinedCount: null,
            invitedCount: null,
            isDm: true,
            strippedState: [
              { type: 'm.room.name', stateKey: '', sender: OWNER, content: { name: 'Invited' } },
              {
                type: 'm.room.member',
                stateKey: ME,
                sender: OWNER,
                content: { membership: 'invite', is_direct: true },
              },
            ],
          }),
        },
      ),
    );
    const byId = new Map(list.rooms.map((entry) => [entry.listing.roomId, entry.listing]));
    const dm = byId.get('!dm:hs.test');
    expect(dm).toMatchObject({
      membership: 'join',
      joinedMemberCount: 2,
      invitedMemberCount: 1,
      isDirect: true,
      lastActivityTs: 0,
    });
    expect(dm?.state.content('m.room.name')).toEqual({ name: 'Chat' });
    expect(byId.get('!knock:hs.test')).toMatchObject({
      membership: 'knock',
      joinedMemberCount: null,
      invitedMemberCount: null,
      isDirect: false,
    });
    const invite = byId.get('!invite:hs.test');
    // An invite answers isDirect from its own member event, not from m.direct.
    expect(invite).toMatchObject({ membership: 'invite', joinedMemberCount: null });
    expect(invite && 'isDirect' in invite).toBe(false);
    expect(invite?.state.content('m.room.member', ME)).toMatchObject({ is_direct: true });
  });

  it('should leave out kicked and banned rooms (left rooms come from /sync)', () => {
    const list = slidingRoomListFrom(
      response({
        '!kicked:hs.test': room({
          bumpStamp: 7,
          requiredState: [stateEvent('m.room.member', ME, OWNER, { membership: 'leave' })],
        }),
        '!banned:hs.test': room({
          bumpStamp: 6,
          requiredState: [stateEvent('m.room.member', ME, OWNER, { membership: 'ban' })],
        }),
        '!in:hs.test': joined('In', 1),
      }),
    );
    expect(list.rooms.map((entry) => entry.listing.roomId)).toEqual(['!in:hs.test']);
  });

  it('should say when a list holds more rooms than the range reached', () => {
    expect(
      slidingRoomListFrom(response({ '!a:hs.test': joined('A', 1) }, {}, { rooms: 2 })).complete,
    ).toBe(false);
    expect(
      slidingRoomListFrom({
        pos: 'p',
        lists: new Map(),
        rooms: new Map(),
        roomTags: null,
      }).complete,
    ).toBe(false);
  });
});

/** A membership's page of a sliding list, as src/schema/room-list.ts cuts it. */
function slidingPage(
  list: SlidingRoomList,
  membership: 'join' | 'invite' | 'knock',
  request: KeyedPageRequest,
) {
  const rooms = list.rooms.filter((room) => room.listing.membership === membership);
  return keyedPage(rooms, recencyKey, request);
}

describe('slidingPage', () => {
  const list = slidingRoomListFrom(
    response({
      '!r5:hs.test': joined('R5', 50),
      '!r4:hs.test': joined('R4', 40),
      '!r3:hs.test': joined('R3', 30),
      '!r2:hs.test': joined('R2', 20),
      '!r1:hs.test': joined('R1', 10),
    }),
  );
  const page = (l: SlidingRoomList, request: Partial<Parameters<typeof slidingPage>[2]>) => {
    const result = slidingPage(l, 'join', {
      size: 2,
      backward: false,
      after: null,
      before: null,
      ...request,
    });
    return { ...result, ids: result.items.map((entry) => entry.listing.roomId) };
  };

  it('should page forward from the top and after a key', () => {
    expect(page(list, {})).toMatchObject({
      ids: ['!r5:hs.test', '!r4:hs.test'],
      hasPreviousPage: false,
      hasNextPage: true,
    });
    expect(page(list, { after: { bumpStamp: 40, roomId: '!r4:hs.test' } })).toMatchObject({
      ids: ['!r3:hs.test', '!r2:hs.test'],
      hasPreviousPage: true,
      hasNextPage: true,
    });
    expect(page(list, { after: { bumpStamp: 20, roomId: '!r2:hs.test' }, size: 5 })).toMatchObject({
      ids: ['!r1:hs.test'],
      hasNextPage: false,
    });
  });

  it('should page backward from the bottom and before a key', () => {
    expect(page(list, { backward: true })).toMatchObject({
      ids: ['!r2:hs.test', '!r1:hs.test'],
      hasPreviousPage: true,
      hasNextPage: false,
    });
    expect(
      page(list, { backward: true, before: { bumpStamp: 40, roomId: '!r4:hs.test' } }),
    ).toMatchObject({
      ids: ['!r5:hs.test'],
      hasPreviousPage: false,
      hasNextPage: true,
    });
  });

  it('should go on after the cursor room as it stood when rooms moved, or when it is gone', () => {
    // Page 1 was R5, R4. Then R2 got a message (to the top) and R4 was left.
    const moved = slidingRoomListFrom(
      response({
        '!r2:hs.test': joined('R2', 60),
        '!r5:hs.test': joined('R5', 50),
        '!r3:hs.test': joined('R3', 30),
        '!r1:hs.test': joined('R1', 10),
      }),
    );
    // Offsets would have given R3, R1 (fine here) or skipped a room; keys give exactly the rooms
    // that stood below R4, without R2, now above.
    expect(page(moved, { after: { bumpStamp: 40, roomId: '!r4:hs.test' } }).ids).toEqual([
      '!r3:hs.test',
      '!r1:hs.test',
    ]);
    // The cursor room itself moved to the top: the rooms below where it stood come next.
    const cursorMoved = slidingRoomListFrom(
      response({
        '!r4:hs.test': joined('R4', 70),
        '!r5:hs.test': joined('R5', 50),
        '!r3:hs.test': joined('R3', 30),
        '!r2:hs.test': joined('R2', 20),
      }),
    );
    expect(page(cursorMoved, { after: { bumpStamp: 40, roomId: '!r4:hs.test' } }).ids).toEqual([
      '!r3:hs.test',
      '!r2:hs.test',
    ]);
  });

  it('should list only the membership asked for', () => {
    const mixed = slidingRoomListFrom(
      response(
        { '!j:hs.test': joined('J', 1) },
        { '!i:hs.test': room({ requiredState: [], strippedState: [] }) },
      ),
    );
    expect(
      slidingPage(mixed, 'invite', {
        size: 5,
        backward: false,
        after: null,
        before: null,
      }).items.map((e) => e.listing.roomId),
    ).toEqual(['!i:hs.test']);
    expect(ids(mixed, 'knock')).toEqual([]);
  });
});
