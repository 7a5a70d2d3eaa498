/**
 * The viewer's room list, `rooms`: one page of one membership, most recently active first, from
 * one sliding sync (MSC4186) when the homeserver offers it, else from one filtered `/sync`
 * (RequestLoaders). docs/queries.md describes both plans and the cursors.
 */
import type { FieldNode, GraphQLResolveInfo } from 'graphql';
import type { MembershipState } from '../matrix/room-state.ts';
import { byActivity, type RoomListing } from '../room/room-list.ts';
import { VIEW_TIMELINE_LIMIT } from '../room/room-view.ts';
import {
  byRecency,
  isSlidingMembership,
  type KeyedPage,
  keyedPage,
  type RecencyKey,
  recencyKey,
  type SlidingListOptions,
} from '../room/sliding-room-list.ts';
import { builder, type Context } from './builder.ts';
import { badCursor, type ConnectionArgs, pageRequest } from './connection-args.ts';
import { openCursor, sealCursor, sealedConnection } from './cursor.ts';
import { MembershipEnum } from './event.ts';
import { isRoomId } from './matrix-ids.ts';
import { LISTING_STATE_BY_FIELD, RoomRef, type RoomShape } from './room.ts';
import { roomFieldArgs, selectedFields } from './room-prefetch.ts';
import { requireTagName } from './room-tags.ts';

builder.queryFields((t) => ({
  rooms: t.connection(
    {
      type: RoomRef,
      description:
        "The viewer's rooms in one membership state (joined by default), most recently active first (by the newest message-like event when the homeserver offers sliding sync, else by the newest event), or only those with one tag. Costs one upstream call (a sliding sync, or a filtered /sync) for the whole list, or none once the viewer's room list is warm (docs/queries.md, Warm room views), each joined room's `tags` and `unreadNotifications` included (the tags of rooms left, and on the /sync plan of invites and knocks, cost a call per room); cursors stay valid when rooms move.",
      args: {
        membership: t.arg({
          type: MembershipEnum,
          required: false,
          defaultValue: 'join',
          description: 'Which rooms: joined (the default), invited, knocking or left.',
        }),
        tag: t.arg.string({
          required: false,
          description:
            'Only the rooms the viewer tagged with this tag (`m.favourite`, `m.lowpriority` or a user-defined `u.…` tag), in the same most-recent-first order: `RoomTag.order` is there for clients that sort a tag by it. A cursor works only with the tag it came with.',
        }),
      },
      resolve: async (_root, args, context, info) => {
        const membership = args.membership ?? 'join';
        // Page size, cursors and the tag are checked before any upstream call.
        const { size, backward } = pageRequest(args);
        const tag = args.tag == null ? null : requireTagName(args.tag);
        const cursors = roomListCursors(context.cursorKey, { membership, tag }, args);
        const fields = listedRoomFields(info);
        const needs = listedRoomNeeds(info, fields, tag);
        const { rooms: warm, warming } = await warmRoomList(context, membership, needs);
        // Unread counts come only with /sync (see UNREAD_FIELDS): one call either way.
        const sliding =
          warm === null &&
          isSlidingMembership(membership) &&
          !fields.some((field) => UNREAD_FIELDS.has(field.name.value))
            ? await context.session.loaders.slidingRoomList(needs)
            : null;
        const plan: RoomListPlanName =
          warm !== null ? 'warm' : sliding === null ? 'sync' : 'sliding';
        const listed: KeyedRoom[] =
          warm !== null
            ? warm
            : sliding === null
              ? byActivity(
                  (await context.session.loaders.roomList(membership === 'leave')).rooms,
                  membership,
                )
                  .map((listing) => ({ listing, key: activityKey(listing) }))
                  .sort((a, b) => byRecency(a.key, b.key))
              : sliding.rooms
                  .filter((room) => room.listing.membership === membership)
                  .map((room) => ({ listing: room.listing, key: recencyKey(room) }));
        const rooms = tag === null ? listed : await taggedWith(context, tag, listed);
        const page = keyedPage(rooms, (room) => room.key, {
          size,
          backward,
          after: keyIn(cursors.after, plan, rooms),
          before: keyIn(cursors.before, plan, rooms),
        });
        // Within the request: its client (and so the whoami that names the view) ends with it.
        await warming;
        return keyedConnection(context.cursorKey, { membership, tag }, plan, page);
      },
    },
    {
      name: 'RoomConnection',
      description: 'One page of the list: its edges, and where it stands in the whole list.',
    },
    { name: 'RoomEdge', description: 'One item of the page (a room) with its cursor.' },
  ),
}));

/**
 * What the selection of each listed room (`edges { node { … } }`) needs from the sliding sync:
 * the state types its fields read (LISTING_STATE_BY_FIELD), and how many newest events its
 * `messages(last: N)` pages want without a cursor (N + 1 for the largest N: one more tells whether
 * older events exist), whether it lists `members` (each room's member list then comes along:
 * one call where a second one for all their states measured 3.7 times as long, docs/queries.md),
 * and whether it shows `tags` or filters by a tag (the viewer's tags then come along). A field selected some other way (under a directive, in a fragment on
 * `Node`) finds its type missing from the listing and reads the full state instead: a call more,
 * never a wrong answer.
 */
function listedRoomNeeds(
  info: GraphQLResolveInfo,
  fields: readonly FieldNode[],
  tag: string | null,
): SlidingListOptions {
  const stateTypes = new Set(
    fields.flatMap((field) => LISTING_STATE_BY_FIELD[field.name.value] ?? []),
  );
  return {
    stateTypes: [...stateTypes].sort(),
    members: fields.some((field) => field.name.value === 'members'),
    tags: tag !== null || fields.some((field) => field.name.value === 'tags'),
    timelineLimit: timelineLimit(
      info,
      fields.filter((field) => field.name.value === 'messages'),
    ),
  };
}

/** The fields selected on each listed room (`edges { node { … } }`). */
function listedRoomFields(info: GraphQLResolveInfo): FieldNode[] {
  const at = (nodes: readonly FieldNode[], name: string, typeName: string) =>
    nodes.flatMap((node) =>
      selectedFields(node.selectionSet, info.fragments, typeName).filter(
        (field) => field.name.value === name,
      ),
    );
  const nodes = at(at(info.fieldNodes, 'edges', 'RoomConnection'), 'node', 'RoomEdge');
  return nodes.flatMap((node) => selectedFields(node.selectionSet, info.fragments, 'Room'));
}

/**
 * Room fields that make the `/sync` plan serve the list: the unread counts come with `/sync`
 * (`unread_notifications`), while Synapse 1.160's sliding sync answers placeholder zeros. So a
 * list showing them still costs one call, ordered by the newest event as on the `/sync` plan.
 */
const UNREAD_FIELDS = new Set(['unreadNotifications']);

/** The events the largest of the `messages` pages wants from the list (see listedRoomNeeds). */
function timelineLimit(info: GraphQLResolveInfo, pages: readonly FieldNode[]): number {
  let limit = 0;
  for (const page of pages) {
    const args = roomFieldArgs<ConnectionArgs>(page, info);
    if (args === null) {
      continue;
    }
    try {
      const { size, backward } = pageRequest(args);
      if (backward && args.before == null) {
        limit = Math.max(limit, size + 1);
      }
    } catch {
      // A page size out of bounds: the field reports it when it resolves.
    }
  }
  return limit;
}

/**
 * Room list cursors are keys, not offsets: a signed `{ p: plan, b, r: roomId }` of the edge's
 * room, bound to the membership (and tag) listed, where `b` orders the list (sliding sync: the room's
 * `bump_stamp`; `/sync`: when its newest event was sent). A page resumes right after (or before)
 * that room as it stood, however rooms moved since (`keyedPage`). A cursor of the other plan (the
 * homeserver stopped or started offering sliding sync between two pages) resumes from its room's
 * place in the list at hand, or from the top when the room is gone.
 */
type RoomListPlanName = 'sliding' | 'sync' | 'warm';

interface KeyedRoom {
  listing: RoomListing;
  key: RecencyKey;
}

interface RoomListCursor {
  plan: RoomListPlanName;
  key: RecencyKey;
}

/** What a list shows: one membership, and only the rooms with `tag` when one is given. */
interface RoomListFilter {
  membership: MembershipState;
  tag: string | null;
}

/**
 * A cursor's scope: the list it came from. A cursor of another membership or tag is refused as
 * malformed (its room may not be in this list: there is no place to resume from); an untagged
 * list keeps the scope it always had, so its cursors stay valid.
 */
function roomListScope({ membership, tag }: RoomListFilter): unknown[] {
  return tag === null ? ['rooms', membership] : ['rooms', membership, tag];
}

/**
 * The rooms of `rooms` the viewer tagged with `tag`, in the same order. The listing says for the
 * rooms the list brought tags for (all of them, but for left, invited and knocked rooms on the
 * `/sync` plan); the others are asked one call each (`GET …/tags`), all at once.
 */
async function taggedWith(
  context: Context,
  tag: string,
  rooms: readonly KeyedRoom[],
): Promise<KeyedRoom[]> {
  const tags = await Promise.all(
    rooms.map(
      (room) => room.listing.tags ?? context.session.loaders.roomTags.load(room.listing.roomId),
    ),
  );
  return rooms.filter((_room, index) => tags[index]?.some((held) => held.name === tag));
}

/**
 * The list from the viewer's warm room view (src/sync/warm-views.ts), when there is one that can
 * answer it: no upstream call. Not for rooms left (the view keeps joined rooms, invites and
 * knocks), nor for a list that wants more of each room's newest events than the view keeps.
 * Otherwise `null`, and the view starts warming for the next read.
 */
async function warmRoomList(
  context: Context,
  membership: MembershipState,
  needs: SlidingListOptions,
): Promise<{ rooms: KeyedRoom[] | null; warming: Promise<void> | null }> {
  const views = context.warmViews;
  if (
    views === null ||
    !isSlidingMembership(membership) ||
    (needs.timelineLimit ?? 0) > VIEW_TIMELINE_LIMIT
  ) {
    return { rooms: null, warming: null };
  }
  const viewer = context.session.viewer;
  const view = await views.read(viewer.accessToken);
  if (view !== null) {
    return { rooms: view.rooms(membership), warming: null };
  }
  // Alongside the cold plan's call: the user ID the view needs (one whoami, unless known).
  const warming = viewer.account().then(
    (account) => views.warm(account),
    () => {},
  );
  return { rooms: null, warming };
}

/** The `/sync` plan's order as a key: newest activity first, then room ID. */
function activityKey(listing: RoomListing): RecencyKey {
  return { bumpStamp: listing.lastActivityTs, roomId: listing.roomId };
}

/** The `after`/`before` cursors; BAD_USER_INPUT (with no upstream call) for any other string. */
function roomListCursors(
  key: Uint8Array,
  filter: RoomListFilter,
  args: ConnectionArgs,
): { after: RoomListCursor | null; before: RoomListCursor | null } {
  const read = (field: 'after' | 'before'): RoomListCursor | null => {
    const cursor = args[field];
    if (cursor == null) {
      return null;
    }
    const payload = openCursor(key, roomListScope(filter), cursor);
    const fields = typeof payload === 'object' && payload !== null ? payload : {};
    const { p: plan, b: stamp, r: roomId } = fields as Record<string, unknown>;
    if (
      (plan !== 'sliding' && plan !== 'sync' && plan !== 'warm') ||
      typeof stamp !== 'number' ||
      !Number.isSafeInteger(stamp) ||
      stamp < 0 ||
      typeof roomId !== 'string' ||
      !isRoomId(roomId)
    ) {
      throw badCursor(field);
    }
    return { plan, key: { bumpStamp: stamp, roomId } };
  };
  return { after: read('after'), before: read('before') };
}

/** A cursor's key in the list at hand (see {@link roomListCursors} for another plan's cursor). */
function keyIn(
  cursor: RoomListCursor | null,
  plan: RoomListPlanName,
  rooms: readonly KeyedRoom[],
): RecencyKey | null {
  if (cursor === null || cursor.plan === plan) {
    return cursor?.key ?? null;
  }
  return rooms.find((room) => room.listing.roomId === cursor.key.roomId)?.key ?? null;
}

function keyedConnection(
  key: Uint8Array,
  filter: RoomListFilter,
  plan: RoomListPlanName,
  page: KeyedPage<KeyedRoom>,
) {
  const scope = roomListScope(filter);
  return sealedConnection(
    page.items,
    {
      node: (room): RoomShape => ({ roomId: room.listing.roomId, listing: room.listing }),
      cursor: (room) =>
        sealCursor(key, scope, { p: plan, b: room.key.bumpStamp, r: room.key.roomId }),
    },
    { hasPreviousPage: page.hasPreviousPage, hasNextPage: page.hasNextPage },
  );
}
