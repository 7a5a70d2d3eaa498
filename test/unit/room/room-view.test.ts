import { describe, expect, it } from 'vitest';
import { type SyncResponse, toSyncResponse } from '../../../src/matrix/sync.ts';
import type { WireClientEvent, WireSyncResponse } from '../../../src/matrix/wire-types.ts';
import {
  RoomView,
  VIEW_SNAPSHOT_FILTER,
  VIEW_TIMELINE_LIMIT,
} from '../../../src/room/room-view.ts';
import {
  ALICE,
  BOB,
  joined,
  member,
  message,
  stateEvent,
  syncResponse,
} from '../sync/scripted-transport.ts';

const ME = '@me:hs.test';
const CAROL = '@carol:hs.test';
const QUIET = '!quiet:hs.test';
const BUSY = '!busy:hs.test';
const NEW = '!new:hs.test';

type WireJoined = NonNullable<NonNullable<WireSyncResponse['rooms']>['join']>[string];

/** Wire JSON parsed the way the sync client parses it. */
const parse = (wire: WireSyncResponse): SyncResponse => toSyncResponse(wire);

/** `event` sent at `ts`. */
const at = (ts: number, event: WireClientEvent): WireClientEvent => ({
  ...event,
  origin_server_ts: ts,
});

const named = (name: string, ts: number) => at(ts, stateEvent('m.room.name', '', { name }));

/** A joined room as a snapshot lists it: summary, unread counts and account data included. */
function snapshotRoom(
  events: WireClientEvent[],
  options: {
    state?: WireClientEvent[];
    limited?: boolean;
    joinedCount?: number;
    invitedCount?: number;
    unread?: [number, number];
    accountData?: { type: string; content: Record<string, unknown> }[];
  } = {},
): WireJoined {
  return {
    ...joined(events, {
      state: options.state ?? [],
      ...(options.limited === undefined ? {} : { limited: options.limited }),
    }),
    summary: {
      'm.joined_member_count': options.joinedCount ?? 1,
      'm.invited_member_count': options.invitedCount ?? 0,
    },
    unread_notifications: {
      notification_count: options.unread?.[0] ?? 0,
      highlight_count: options.unread?.[1] ?? 0,
    },
    account_data: { events: options.accountData ?? [] },
  };
}

/** The view after a snapshot of two joined rooms: QUIET (older) and BUSY (newer). */
function twoRoomView(): RoomView {
  const view = new RoomView(ME);
  view.reset(
    parse(
      syncResponse('s0', {
        join: {
          [QUIET]: snapshotRoom([at(1_000, message('old'))], {
            state: [named('Quiet', 100), at(100, member(ME, 'join'))],
            joinedCount: 2,
          }),
          [BUSY]: snapshotRoom([named('Busy', 4_000), at(5_000, message('new'))], {
            limited: true,
            joinedCount: 5,
            invitedCount: 1,
          }),
        },
      }),
    ),
  );
  return view;
}

const joinedIds = (view: RoomView) => view.rooms('join').map((room) => room.listing.roomId);
const listingOf = (
  view: RoomView,
  roomId: string,
  membership: 'join' | 'invite' | 'knock' = 'join',
) => {
  const room = view.rooms(membership).find((entry) => entry.listing.roomId === roomId);
  if (room === undefined) {
    throw new Error(`${roomId} is not listed as ${membership}`);
  }
  return room;
};
const bodies = (view: RoomView, roomId: string) =>
  listingOf(view, roomId).listing.recentEvents?.events.map((event) => event.content['body']);

describe('VIEW_SNAPSHOT_FILTER', () => {
  it('should ask for the newest events, every member, tags and m.direct, and nothing else', () => {
    expect(VIEW_SNAPSHOT_FILTER).toEqual({
      presence: { notTypes: ['*'] },
      accountData: { types: ['m.direct'] },
      room: {
        includeLeave: false,
        timeline: { limit: VIEW_TIMELINE_LIMIT },
        ephemeral: { notTypes: ['*'] },
        accountData: { types: ['m.tag'] },
      },
    });
  });
});

describe('RoomView', () => {
  it('should list the snapshot, most recent first, with state, counts and events', () => {
    const view = twoRoomView();
    expect(view.version).toBe(1);
    const rooms = view.rooms('join');
    expect(rooms.map((room) => room.key)).toEqual([
      { bumpStamp: 5_000, roomId: BUSY },
      { bumpStamp: 1_000, roomId: QUIET },
    ]);
    const busy = rooms[0]?.listing;
    expect(busy).toMatchObject({
      roomId: BUSY,
      membership: 'join',
      joinedMemberCount: 5,
      invitedMemberCount: 1,
      lastActivityTs: 5_000,
      unreadNotifications: { notificationCount: 0, highlightCount: 0 },
      tags: [],
      isDirect: false,
    });
    expect(busy?.state.content('m.room.name')).toEqual({ name: 'Busy' });
    expect(busy?.stateTypes).toBeUndefined();
    // The snapshot holds every member event (no lazy loading): the member list is the listing's.
    expect(busy?.allMembers).toBe(true);
    expect(busy?.recentEvents?.complete).toBe(false);
    const quiet = rooms[1]?.listing;
    expect(quiet?.recentEvents?.complete).toBe(true);
    expect(quiet?.state.content('m.room.member', ME)).toEqual({ membership: 'join' });
    expect(view.rooms('invite')).toEqual([]);
  });

  it('should move a room up on a message, not on a rename, which still updates its state', () => {
    const view = twoRoomView();
    view.apply(parse(syncResponse('s1', { join: { [QUIET]: joined([named('Renamed', 9_000)]) } })));
    expect(joinedIds(view)).toEqual([BUSY, QUIET]);
    const quiet = listingOf(view, QUIET);
    expect(quiet.key.bumpStamp).toBe(1_000);
    expect(quiet.listing.lastActivityTs).toBe(9_000);
    expect(quiet.listing.state.content('m.room.name')).toEqual({ name: 'Renamed' });

    view.apply(
      parse(syncResponse('s2', { join: { [QUIET]: joined([at(9_500, message('hi'))]) } })),
    );
    expect(joinedIds(view)).toEqual([QUIET, BUSY]);
    expect(listingOf(view, QUIET).key.bumpStamp).toBe(9_500);
    expect(bodies(view, QUIET)).toEqual(['old', undefined, 'hi']);
    expect(view.version).toBe(3);
  });

  it('should not take back from a state block a state event it saw replaced (a fork)', () => {
    const view = twoRoomView();
    const first = named('First', 2_000);
    view.apply(parse(syncResponse('s1', { join: { [QUIET]: joined([first]) } })));
    view.apply(parse(syncResponse('s2', { join: { [QUIET]: joined([named('Second', 3_000)]) } })));
    // The next timeline starts at a message sent beside the rename: its state block states the
    // name from before it, which is no longer the room's.
    view.apply(
      parse(
        syncResponse('s3', {
          join: { [QUIET]: joined([at(3_001, message('beside'))], { state: [first] }) },
        }),
      ),
    );
    expect(listingOf(view, QUIET).listing.state.content('m.room.name')).toEqual({
      name: 'Second',
    });
    // A change the view never saw (a gap's) is taken.
    view.apply(
      parse(
        syncResponse('s4', {
          join: {
            [QUIET]: joined([at(4_000, message('after'))], { state: [named('Third', 3_500)] }),
          },
        }),
      ),
    );
    expect(listingOf(view, QUIET).listing.state.content('m.room.name')).toEqual({
      name: 'Third',
    });
  });

  it('should order equal stamps by room ID', () => {
    const view = new RoomView(ME);
    view.reset(
      parse(
        syncResponse('s0', {
          join: {
            '!b:hs.test': snapshotRoom([at(7, message('b'))]),
            '!a:hs.test': snapshotRoom([at(7, message('a'))]),
          },
        }),
      ),
    );
    expect(joinedIds(view)).toEqual(['!a:hs.test', '!b:hs.test']);
  });

  it('should date a room without a bump event by its newest event, and keep that', () => {
    const view = new RoomView(ME);
    view.reset(
      parse(
        syncResponse('s0', {
          join: { [QUIET]: snapshotRoom([at(300, member(ALICE, 'join'))], { limited: true }) },
        }),
      ),
    );
    expect(listingOf(view, QUIET).key.bumpStamp).toBe(300);
    view.apply(parse(syncResponse('s1', { join: { [QUIET]: joined([named('Later', 900)]) } })));
    expect(listingOf(view, QUIET).key.bumpStamp).toBe(300);
  });

  it('should keep an event once, and know it', () => {
    const view = twoRoomView();
    const hello = at(6_000, message('hello', { eventId: '$hello' }));
    view.apply(parse(syncResponse('s1', { join: { [QUIET]: joined([hello]) } })));
    view.apply(parse(syncResponse('s2', { join: { [QUIET]: joined([hello]) } })));
    expect(bodies(view, QUIET)).toEqual(['old', 'hello']);
    expect(view.hasEvent(QUIET, '$hello')).toBe(true);
    expect(view.hasEvent(BUSY, '$hello')).toBe(false);
    expect(view.hasEvent('!unknown:hs.test', '$hello')).toBe(false);
  });

  it('should not count a repeated member event twice', () => {
    const view = twoRoomView();
    const join = member(CAROL, 'join', 'leave', { eventId: '$carol' });
    view.apply(parse(syncResponse('s1', { join: { [QUIET]: joined([join]) } })));
    view.apply(parse(syncResponse('s2', { join: { [QUIET]: joined([join]) } })));
    expect(listingOf(view, QUIET).listing.joinedMemberCount).toBe(3);
  });

  it('should keep the newest events only, and then not call them complete', () => {
    const view = new RoomView(ME, { timelineLimit: 3 });
    view.reset(
      parse(syncResponse('s0', { join: { [QUIET]: snapshotRoom([message('a'), message('b')]) } })),
    );
    expect(listingOf(view, QUIET).listing.recentEvents?.complete).toBe(true);
    const c = message('c');
    view.apply(parse(syncResponse('s1', { join: { [QUIET]: joined([c, message('d')]) } })));
    expect(bodies(view, QUIET)).toEqual(['b', 'c', 'd']);
    expect(listingOf(view, QUIET).listing.recentEvents?.complete).toBe(false);
    // Evicted from the kept events, still remembered as seen.
    view.apply(parse(syncResponse('s2', { join: { [QUIET]: joined([message('e')]) } })));
    expect(view.hasEvent(QUIET, c.event_id)).toBe(true);
  });

  it('should replace the kept events with a limited timeline', () => {
    const view = twoRoomView();
    const before = listingOf(view, QUIET).listing;
    view.apply(
      parse(
        syncResponse('s1', {
          join: {
            [QUIET]: joined([at(7_000, message('after the gap'))], {
              limited: true,
              prevBatch: 'p1',
              state: [named('Renamed in the gap', 6_500)],
            }),
          },
        }),
      ),
    );
    const after = listingOf(view, QUIET).listing;
    expect(bodies(view, QUIET)).toEqual(['after the gap']);
    expect(after.recentEvents?.complete).toBe(false);
    expect(after.state.content('m.room.name')).toEqual({ name: 'Renamed in the gap' });
    // Listings handed out earlier do not change under their holder.
    expect(before.recentEvents?.events).toHaveLength(1);
    expect(before.state.content('m.room.name')).toEqual({ name: 'Quiet' });
  });

  describe('member counts', () => {
    const countsOf = (view: RoomView, roomId = QUIET) => {
      const { listing } = listingOf(view, roomId);
      return [listing.joinedMemberCount, listing.invitedMemberCount];
    };
    const applyTimeline = (view: RoomView, events: WireClientEvent[], roomId = QUIET) =>
      view.apply(parse(syncResponse('next', { join: { [roomId]: joined(events) } })));

    it('should count a join and a leave by prev_content', () => {
      const view = twoRoomView();
      expect(countsOf(view)).toEqual([2, 0]);
      applyTimeline(view, [member(ALICE, 'join', 'leave')]);
      expect(countsOf(view)).toEqual([3, 0]);
      applyTimeline(view, [member(BOB, 'leave', 'join')]);
      expect(countsOf(view)).toEqual([2, 0]);
    });

    it('should count an invite, then the invitee joining', () => {
      const view = twoRoomView();
      applyTimeline(view, [member(CAROL, 'invite', undefined, { sender: ME })]);
      expect(countsOf(view)).toEqual([2, 1]);
      // No prev_content: the member event the view holds says where Carol came from.
      applyTimeline(view, [member(CAROL, 'join')]);
      expect(countsOf(view)).toEqual([3, 0]);
    });

    it('should read a display name change as no transition', () => {
      const view = twoRoomView();
      applyTimeline(view, [
        stateEvent(
          'm.room.member',
          ME,
          { membership: 'join', displayname: 'Me' },
          { sender: ME, prevContent: { membership: 'join' } },
        ),
      ]);
      expect(countsOf(view)).toEqual([2, 0]);
    });

    it('should count state-block members of a gap from what the view held', () => {
      const view = twoRoomView();
      // Carol joined and left in the gap: the state block has only her leave, whose
      // prev_content says join, but the view knew her as not a member.
      applyTimeline(view, [member(CAROL, 'invite', undefined, { sender: ME })]);
      view.apply(
        parse(
          syncResponse('s2', {
            join: {
              [QUIET]: joined([message('later')], {
                limited: true,
                state: [member(CAROL, 'leave', 'join')],
              }),
            },
          }),
        ),
      );
      expect(countsOf(view)).toEqual([2, 0]);
    });

    it('should take a summary the server sends over its own count', () => {
      const view = twoRoomView();
      view.apply(
        parse(
          syncResponse('s1', {
            join: {
              [QUIET]: {
                ...joined([member(ALICE, 'join', 'leave')]),
                summary: { 'm.joined_member_count': 10 },
              },
            },
          }),
        ),
      );
      expect(countsOf(view)).toEqual([10, 0]);
    });
  });

  it('should follow unread counts, tags and m.direct', () => {
    const view = twoRoomView();
    expect(listingOf(view, QUIET).listing.unreadNotifications).toEqual({
      notificationCount: 0,
      highlightCount: 0,
    });
    view.apply(
      parse(
        syncResponse('s1', {
          join: {
            [QUIET]: {
              ...joined([message('ping')]),
              unread_notifications: { notification_count: 2, highlight_count: 1 },
              account_data: {
                events: [
                  {
                    type: 'm.tag',
                    content: { tags: { 'u.work': {}, 'm.favourite': { order: 0.5 } } },
                  },
                ],
              },
            },
          },
        }),
      ),
    );
    let quiet = listingOf(view, QUIET).listing;
    expect(quiet.unreadNotifications).toEqual({ notificationCount: 2, highlightCount: 1 });
    expect(quiet.tags).toEqual([
      { name: 'm.favourite', order: 0.5 },
      { name: 'u.work', order: null },
    ]);
    expect(quiet.isDirect).toBe(false);

    view.apply({
      ...parse(syncResponse('s2')),
      accountData: [{ type: 'm.direct', content: { [ALICE]: [QUIET] } }],
    });
    quiet = listingOf(view, QUIET).listing;
    expect(quiet.isDirect).toBe(true);
    expect(listingOf(view, BUSY).listing.isDirect).toBe(false);
    // A response without the room leaves its counts and tags alone.
    expect(quiet.unreadNotifications).toEqual({ notificationCount: 2, highlightCount: 1 });
    expect(quiet.tags).toHaveLength(2);

    view.apply(
      parse(
        syncResponse('s3', {
          join: {
            [QUIET]: {
              ...joined([]),
              ephemeral: { events: [{ type: 'm.receipt', content: {} }] },
              unread_notifications: { notification_count: 0, highlight_count: 0 },
              account_data: { events: [{ type: 'm.tag', content: { tags: {} } }] },
            },
          },
        }),
      ),
    );
    quiet = listingOf(view, QUIET).listing;
    expect(quiet.unreadNotifications).toEqual({ notificationCount: 0, highlightCount: 0 });
    expect(quiet.tags).toEqual([]);
  });

  it('should drop a room left, list an invite, and move it to the joined rooms on joining', () => {
    const view = twoRoomView();
    view.apply(
      parse(
        syncResponse('s1', {
          leave: { [BUSY]: { timeline: { events: [member(ME, 'leave', 'join')] } } },
          invite: {
            [NEW]: {
              invite_state: {
                events: [
                  { type: 'm.room.name', state_key: '', sender: ALICE, content: { name: 'New' } },
                  {
                    type: 'm.room.member',
                    state_key: ME,
                    sender: ALICE,
                    content: { membership: 'invite', is_direct: true },
                  },
                ],
              },
            },
          },
        }),
      ),
    );
    expect(joinedIds(view)).toEqual([QUIET]);
    expect(view.hasEvent(BUSY, 'anything')).toBe(false);
    const invite = listingOf(view, NEW, 'invite');
    expect(invite.listing).toMatchObject({ membership: 'invite', joinedMemberCount: null });
    expect(invite.listing.state.content('m.room.name')).toEqual({ name: 'New' });

    view.apply(
      parse(
        syncResponse('s2', {
          join: {
            [NEW]: joined([at(8_000, member(ME, 'join', 'invite'))], {
              limited: true,
              state: [
                at(10, stateEvent('m.room.create', '', { room_version: '11' }, { sender: ALICE })),
                at(20, member(ALICE, 'join')),
                at(30, member(CAROL, 'invite', undefined, { sender: ALICE })),
                named('New', 40),
              ],
            }),
          },
        }),
      ),
    );
    expect(view.rooms('invite')).toEqual([]);
    const room = listingOf(view, NEW);
    expect(room.listing).toMatchObject({
      membership: 'join',
      joinedMemberCount: 2,
      invitedMemberCount: 1,
    });
    expect(room.listing.tags).toBeUndefined();
    expect(room.listing.recentEvents?.complete).toBe(false);
    expect(room.listing.state.content('m.room.name')).toEqual({ name: 'New' });
    expect(joinedIds(view)).toEqual([NEW, QUIET]);
  });

  it('should list a knock, and drop it when the knock is refused', () => {
    const view = twoRoomView();
    view.apply(
      parse(
        syncResponse('s1', {
          knock: {
            [NEW]: {
              knock_state: {
                events: [
                  { type: 'm.room.name', state_key: '', sender: ALICE, content: { name: 'Club' } },
                ],
              },
            },
          },
        }),
      ),
    );
    expect(listingOf(view, NEW, 'knock').listing.membership).toBe('knock');
    view.apply(parse(syncResponse('s2', { leave: { [NEW]: {} } })));
    expect(view.rooms('knock')).toEqual([]);
  });

  it('should grow and shrink its byte count with what it keeps', () => {
    const view = new RoomView(ME, { timelineLimit: 2 });
    view.reset(parse(syncResponse('s0', { join: { [QUIET]: snapshotRoom([message('a')]) } })));
    const small = view.bytes;
    expect(small).toBeGreaterThan(0);
    const big = 'x'.repeat(10_000);
    view.apply(
      parse(syncResponse('s1', { join: { [QUIET]: joined([message(big, { eventId: '$big' })]) } })),
    );
    expect(view.bytes).toBeGreaterThan(small + 10_000);
    // Two small messages push the big one out of the kept events.
    view.apply(
      parse(syncResponse('s2', { join: { [QUIET]: joined([message('b'), message('c')]) } })),
    );
    expect(view.bytes).toBeLessThan(small + 1_000);
    view.apply(parse(syncResponse('s3', { leave: { [QUIET]: {} } })));
    expect(view.bytes).toBe(0);
  });

  it('should start over on reset', () => {
    const view = twoRoomView();
    view.reset(parse(syncResponse('s9', { join: { [NEW]: snapshotRoom([message('fresh')]) } })));
    expect(joinedIds(view)).toEqual([NEW]);
    expect(view.hasEvent(QUIET, 'anything')).toBe(false);
    expect(view.version).toBe(2);
  });
});
