/**
 * `roomList(first:)`: the top of the viewer's room list, pushed whole each time it changes (a room
 * moves up on new activity, an invite comes, a room is left, a name, unread count or tag changes),
 * the way sliding-sync clients keep their list live. It follows the viewer's warm room view
 * (src/sync/warm-views.ts), so a push costs no upstream call for what the view holds.
 */
import type { RoomListing } from '../room/room-list.ts';
import type { RoomView } from '../room/room-view.ts';
import { WarmViewDroppedError } from '../sync/warm-views.ts';
import { builder } from './builder.ts';
import { facadeError } from './errors.ts';
import { MembershipEnum } from './event.ts';
import { RoomRef, type RoomShape } from './room.ts';

/** The most rooms one push holds (as one page of `rooms`). */
const MAX_FIRST = 100;

interface RoomListPage {
  rooms: RoomShape[];
  hasMore: boolean;
}

const RoomListPageRef = builder.objectRef<RoomListPage>('RoomListPage').implement({
  description: 'The top of the viewer’s room list as it stands now.',
  fields: (t) => ({
    rooms: t.field({
      type: [RoomRef],
      description:
        'The rooms, most recently active first (as `rooms` orders them), at most `first`.',
      resolve: (page) => page.rooms,
    }),
    hasMore: t.exposeBoolean('hasMore', {
      description: 'Whether the list goes on past these rooms (read them with `rooms(after:)`).',
    }),
  }),
});

type ListedMembership = 'join' | 'invite' | 'knock';

interface ListedPage {
  listings: RoomListing[];
  hasMore: boolean;
}

/** The page `view` shows now; the same listings as the page before when nothing of it changed. */
function pageOf(view: RoomView, membership: ListedMembership, first: number): ListedPage {
  const rooms = view.rooms(membership);
  return {
    listings: rooms.slice(0, first).map((room) => room.listing),
    hasMore: rooms.length > first,
  };
}

function samePage(a: ListedPage | null, b: ListedPage): boolean {
  // A view hands out the same listing object until its room changes (src/room/room-view.ts).
  return (
    a !== null &&
    a.hasMore === b.hasMore &&
    a.listings.length === b.listings.length &&
    a.listings.every((listing, index) => listing === b.listings[index])
  );
}

builder.subscriptionField('roomList', (t) =>
  t.field({
    type: RoomListPageRef,
    description: `The first \`first\` rooms of the viewer's list in one membership (joined by default; invites and knocks too, not rooms left), pushed at once and then each time that page changes: a room moving on new activity, a room coming or going, a name, unread count, tag or other field of the view changing. Each push holds the whole page. Answered from the viewer's warm room view (docs/queries.md): fields it holds cost no upstream call. Ends with ROOM_LIST_UNAVAILABLE when the server keeps no view for the viewer (turned off, over its memory budget, or dropped: subscribe again).`,
    args: {
      first: t.arg.int({ required: true, description: `How many rooms, 1 to ${MAX_FIRST}.` }),
      membership: t.arg({
        type: MembershipEnum,
        required: false,
        defaultValue: 'join',
        description: 'Which rooms: joined (the default), invited or knocking.',
      }),
    },
    subscribe: async function* (_root, args, context) {
      const first = args.first;
      if (!Number.isInteger(first) || first < 1 || first > MAX_FIRST) {
        throw facadeError('BAD_USER_INPUT', `first must be from 1 to ${MAX_FIRST}.`, {
          extensions: { field: 'first' },
        });
      }
      const membership = args.membership ?? 'join';
      if (membership !== 'join' && membership !== 'invite' && membership !== 'knock') {
        throw facadeError(
          'BAD_USER_INPUT',
          'membership must be JOIN, INVITE or KNOCK: rooms left are not kept live.',
          { extensions: { field: 'membership' } },
        );
      }
      const views = context.warmViews;
      if (views === null) {
        throw unavailable('this server keeps no warm room views (turned off)');
      }
      const account = await context.session.viewer.account();
      const signal = AbortSignal.any([context.session.signal, context.shutdownSignal]);
      let last: ListedPage | null = null;
      try {
        for await (const view of views.follow(account, signal)) {
          const page = pageOf(view, membership, first);
          if (!samePage(last, page)) {
            last = page;
            yield {
              rooms: page.listings.map((listing) => ({ roomId: listing.roomId, listing })),
              hasMore: page.hasMore,
            } satisfies RoomListPage;
          }
        }
      } catch (error) {
        if (error instanceof WarmViewDroppedError) {
          throw unavailable(`the viewer's room view was dropped (${error.reason})`);
        }
        throw error;
      }
    },
    resolve: (page: RoomListPage, _args, context) => {
      // Each push is read fresh: nothing a loader kept for the last one is reused.
      context.session.invalidate();
      return page;
    },
  }),
);

function unavailable(why: string) {
  return facadeError(
    'ROOM_LIST_UNAVAILABLE',
    `The room list cannot be kept live: ${why}. Read it with the rooms query instead.`,
  );
}
