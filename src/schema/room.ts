/** Rooms: the `Room` node, `room(id:)`, `roomByAlias` and `directRoom`, and the fields derived from state. */
import { completeValue } from '@pothos/core';
import { resolveAlias } from '../matrix/directory.ts';
import { upstreamStatus } from '../matrix/errors.ts';
import { absentAsNull } from '../matrix/policy.ts';
import type { MembershipState } from '../matrix/room-state.ts';
import { stringIn } from '../room/content.ts';
import { findDirectRoom } from '../room/direct-rooms.ts';
import { membershipIn } from '../room/membership.ts';
import { creatorOf, type PowerLevels, powerLevelsOf, roomVersionOf } from '../room/power-levels.ts';
import type { RoomListing } from '../room/room-list.ts';
import {
  GUEST_ACCESSES,
  HISTORY_VISIBILITIES,
  JOIN_RULES,
  knownValue,
} from '../room/room-settings.ts';
import type { StateIndex } from '../room/state-index.ts';
import { builder, type Context } from './builder.ts';
import { MembershipEnum } from './event.ts';
import { requireRoomAlias, requireRoomId, requireUserId } from './matrix-ids.ts';
import { PowerLevelsRef } from './power-levels.ts';
import { prefetchRoomFields } from './room-prefetch.ts';
import { GuestAccessEnum, HistoryVisibilityEnum, JoinRuleEnum } from './room-settings.ts';
import { UserRef } from './user.ts';

/**
 * What a resolved `Room` carries: its ID, and what the viewer's room list (one /sync) already
 * said about it when the room came from that list. Everything else loads on demand.
 */
export interface RoomShape {
  roomId: string;
  listing: RoomListing | null;
}

export const RoomRef = builder.objectRef<RoomShape>('Room');

/**
 * The whole current state of the room, one upstream call per room per request. Fails with
 * FORBIDDEN when the viewer may not see the room (never joined, or only invited).
 */
export function fullStateOf(context: Context, room: RoomShape): Promise<StateIndex> {
  return context.session.loaders.roomState.load(room.roomId);
}

/**
 * The state types each Room field reads through {@link summaryStateOf}: the room list asks for
 * exactly those of the fields a query selects (src/schema/room-list.ts), and a field reading a
 * type its listing lacks falls back to the full state, so a gap here costs a call, never a wrong
 * answer.
 */
export const LISTING_STATE_BY_FIELD: Readonly<Record<string, readonly string[]>> = {
  name: ['m.room.name'],
  topic: ['m.room.topic'],
  avatarUrl: ['m.room.avatar'],
  canonicalAlias: ['m.room.canonical_alias'],
  altAliases: ['m.room.canonical_alias'],
  joinRule: ['m.room.join_rules'],
  joinRuleValue: ['m.room.join_rules'],
  historyVisibility: ['m.room.history_visibility'],
  historyVisibilityValue: ['m.room.history_visibility'],
  guestAccess: ['m.room.guest_access'],
  guestAccessValue: ['m.room.guest_access'],
  creator: ['m.room.create'],
  version: ['m.room.create'],
  isEncrypted: ['m.room.encryption'],
  // Room version 12 makes the creators privileged: the create event says who and which version.
  powerLevels: ['m.room.power_levels', 'm.room.create'],
};

/**
 * State for a summary field of the room reading `field`'s types: what the room list already
 * holds when it holds them (the `/sync` plan: every type but `m.room.member`; sliding sync: the
 * types the query's fields read; an invite: what the inviter shared), else the full state.
 */
export function summaryStateOf(
  context: Context,
  room: RoomShape,
  field: keyof typeof LISTING_STATE_BY_FIELD,
): Promise<StateIndex> | StateIndex {
  const listing = room.listing;
  const held = listing?.stateTypes;
  if (
    listing &&
    (held === undefined || (LISTING_STATE_BY_FIELD[field] ?? []).every((type) => held.has(type)))
  ) {
    return listing.state;
  }
  return fullStateOf(context, room);
}

/**
 * `read` applied to the state {@link summaryStateOf} gives `field`: at once when the room list
 * holds it (a warm or listed room's fields then resolve with no promise, which graphql would
 * otherwise await field by field, room by room), else once the full state is in.
 */
function fromSummaryState<R>(
  context: Context,
  room: RoomShape,
  field: keyof typeof LISTING_STATE_BY_FIELD,
  read: (state: StateIndex) => R,
): R | Promise<R> {
  return completeValue(summaryStateOf(context, room, field), read) as R | Promise<R>;
}

function summaryContent(
  context: Context,
  room: RoomShape,
  field: keyof typeof LISTING_STATE_BY_FIELD,
  key: string,
): string | null | Promise<string | null> {
  const type = LISTING_STATE_BY_FIELD[field]?.[0] ?? '';
  return fromSummaryState(context, room, field, (state) => {
    const content = state.content(type);
    return content === null ? null : stringIn(content, key);
  });
}

/**
 * A room setting held in one state event's content key, read two ways: as one of the values the
 * spec defines (`null` otherwise), and exactly as the event holds it.
 */
function roomSetting<T extends string>(
  known: readonly T[],
  field: keyof typeof LISTING_STATE_BY_FIELD,
  key: string,
) {
  const raw = (room: RoomShape, _args: unknown, context: Context) =>
    summaryContent(context, room, field, key);
  return {
    raw,
    known: (room: RoomShape, args: unknown, context: Context) =>
      completeValue(raw(room, args, context), (value) => knownValue(known, value)),
  };
}

const joinRule = roomSetting(JOIN_RULES, 'joinRule', 'join_rule');
const historyVisibility = roomSetting(
  HISTORY_VISIBILITIES,
  'historyVisibility',
  'history_visibility',
);
const guestAccess = roomSetting(GUEST_ACCESSES, 'guestAccess', 'guest_access');

/**
 * The room's power levels: its current `m.room.power_levels` (or the spec's defaults) and, from
 * room version 12 on, its privileged creators.
 */
export function roomPowerLevels(
  context: Context,
  room: RoomShape,
): PowerLevels | Promise<PowerLevels> {
  return fromSummaryState(context, room, 'powerLevels', powerLevelsOf);
}

function membershipOf(
  context: Context,
  room: RoomShape,
): MembershipState | null | Promise<MembershipState | null> {
  if (room.listing) {
    return room.listing.membership;
  }
  return Promise.all([context.session.viewer.whoami(), fullStateOf(context, room)]).then(
    ([viewer, state]) => membershipIn(state.content('m.room.member', viewer.userId)),
  );
}

/**
 * How many members are in `membership`: from the room list's summary when it has one, else counted
 * in the full state. `null` for an invite or knock: the viewer may not see the member list yet.
 */
function memberCount(
  context: Context,
  room: RoomShape,
  membership: 'join' | 'invite',
): number | null | Promise<number | null> {
  const fromList =
    membership === 'join' ? room.listing?.joinedMemberCount : room.listing?.invitedMemberCount;
  if (fromList !== null && fromList !== undefined) {
    return fromList;
  }
  if (room.listing?.membership === 'invite' || room.listing?.membership === 'knock') {
    return null;
  }
  return fullStateOf(context, room).then(
    (state) =>
      state.entries(['m.room.member']).filter((entry) => membershipIn(entry.content) === membership)
        .length,
  );
}

/**
 * `room(id:)`, `roomByAlias` and `node(id:)`: the room by ID; FORBIDDEN when the viewer may not
 * see it. An invited viewer may not read the room's state yet, so a refused invite is looked up in
 * the room list (its stripped invite state) before giving up.
 */
async function loadRoom(context: Context, roomId: string): Promise<RoomShape> {
  const roomLoaders = context.session.loaders;
  try {
    await roomLoaders.roomState.load(roomId);
    return { roomId, listing: null };
  } catch (error) {
    if (upstreamStatus(error) === 403) {
      const list = await roomLoaders.roomList(false);
      const invite = list.rooms.find((room) => room.roomId === roomId);
      if (invite) {
        return { roomId, listing: invite };
      }
    }
    throw error;
  }
}

builder.node(RoomRef, {
  description: 'A Matrix room. Its ID is the room ID, e.g. `!abc:example.org`.',
  id: { resolve: (room) => room.roomId },
  // The relay plugin brands what `node`/`nodes` load only once its own load settles, so a second
  // lookup of the same ID in one request can reach the Node interface unbranded (a Pothos race);
  // the shape tells it apart then. Every Room value carries `listing`, no User value does.
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'listing' in value,
  // Async so that a malformed ID rejects rather than throws: the relay plugin starts the loads of
  // `nodes(ids:)` one after another, and a throw would abandon those already started (their
  // refusals then went unhandled, which ends a Node process).
  loadOne: async (id, context) => loadRoom(context, requireRoomId(id, 'id')),
  fields: (t) => ({
    name: t.string({
      nullable: true,
      description: 'From `m.room.name`; `null` when the room has none.',
      resolve: (room, _args, context) => summaryContent(context, room, 'name', 'name'),
    }),
    topic: t.string({
      nullable: true,
      description: 'From `m.room.topic`.',
      resolve: (room, _args, context) => summaryContent(context, room, 'topic', 'topic'),
    }),
    avatarUrl: t.string({
      nullable: true,
      description: 'From `m.room.avatar`, an `mxc://` URI.',
      resolve: (room, _args, context) => summaryContent(context, room, 'avatarUrl', 'url'),
    }),
    canonicalAlias: t.string({
      nullable: true,
      description: 'From `m.room.canonical_alias`, e.g. `#room:example.org`.',
      resolve: (room, _args, context) => summaryContent(context, room, 'canonicalAlias', 'alias'),
    }),
    joinRule: t.field({
      type: JoinRuleEnum,
      nullable: true,
      description:
        'Who may join (`m.room.join_rules`); `null` when the room does not say, or says something the spec does not define (see `joinRuleValue`).',
      resolve: joinRule.known,
    }),
    joinRuleValue: t.string({
      nullable: true,
      description: 'The join rule exactly as `m.room.join_rules` holds it.',
      resolve: joinRule.raw,
    }),
    historyVisibility: t.field({
      type: HistoryVisibilityEnum,
      nullable: true,
      description:
        'Who may read the history (`m.room.history_visibility`); `null` when the room does not say, or says something the spec does not define (see `historyVisibilityValue`).',
      resolve: historyVisibility.known,
    }),
    historyVisibilityValue: t.string({
      nullable: true,
      description: 'The history visibility exactly as `m.room.history_visibility` holds it.',
      resolve: historyVisibility.raw,
    }),
    guestAccess: t.field({
      type: GuestAccessEnum,
      nullable: true,
      description:
        'Whether guests may join (`m.room.guest_access`); `null` when the room does not say (guests may not join then), or says something the spec does not define (see `guestAccessValue`).',
      resolve: guestAccess.known,
    }),
    guestAccessValue: t.string({
      nullable: true,
      description: 'The guest access exactly as `m.room.guest_access` holds it.',
      resolve: guestAccess.raw,
    }),
    creator: t.field({
      type: UserRef,
      nullable: true,
      description:
        'Who created the room: the `m.room.create` sender (its `creator` field in room versions before 11).',
      resolve: (room, _args, context) =>
        fromSummaryState(context, room, 'creator', (state) => {
          const create = state.get('m.room.create');
          return create === null ? null : { userId: creatorOf(create) };
        }),
    }),
    version: t.string({
      nullable: true,
      description: 'From `m.room.create` (`1` when the event does not say).',
      resolve: (room, _args, context) =>
        fromSummaryState(context, room, 'version', (state) =>
          roomVersionOf(state.content('m.room.create')),
        ),
    }),
    isEncrypted: t.boolean({
      description:
        'Whether the room has `m.room.encryption` state (messages are end-to-end encrypted).',
      resolve: (room, _args, context) =>
        fromSummaryState(
          context,
          room,
          'isEncrypted',
          (state) => state.get('m.room.encryption') !== null,
        ),
    }),
    isDirect: t.boolean({
      description:
        "Whether the viewer's `m.direct` account data lists the room as a direct chat (for an invite: whether the invite was marked direct).",
      resolve: async (room, _args, context) => {
        if (room.listing?.membership === 'invite') {
          const viewer = await context.session.viewer.whoami();
          return room.listing.state.content('m.room.member', viewer.userId)?.['is_direct'] === true;
        }
        if (room.listing?.isDirect !== undefined) {
          return room.listing.isDirect;
        }
        const direct = await context.session.loaders.directRooms();
        return [...direct.values()].some((roomIds) => roomIds.includes(room.roomId));
      },
    }),
    myMembership: t.field({
      type: MembershipEnum,
      nullable: true,
      description: "The viewer's membership; `null` when the viewer never had one.",
      resolve: (room, _args, context) => membershipOf(context, room),
    }),
    joinedMemberCount: t.int({
      nullable: true,
      description: 'How many users are joined; `null` while the viewer is only invited.',
      resolve: (room, _args, context) => memberCount(context, room, 'join'),
    }),
    invitedMemberCount: t.int({
      nullable: true,
      description:
        'How many users are invited and have not answered; `null` while the viewer is only invited.',
      resolve: (room, _args, context) => memberCount(context, room, 'invite'),
    }),
    powerLevels: t.field({
      type: PowerLevelsRef,
      description: "Who may do what: users' levels and the levels actions need.",
      resolve: (room, _args, context) => roomPowerLevels(context, room),
    }),
  }),
});

/**
 * The room from the viewer's warm room view (src/sync/warm-views.ts), when it holds the room
 * (joined, invited or knocking: the viewer may see it, by its own stream): its page is then read
 * from memory, members and newest events included, with no upstream call. `null` otherwise, and
 * a view starts warming for the next request.
 */
async function warmRoom(context: Context, roomId: string): Promise<RoomShape | null> {
  const views = context.warmViews;
  if (views === null || !context.session.authenticated) {
    return null;
  }
  const viewer = context.session.viewer;
  const view = await views.read(viewer.accessToken);
  const listing = view?.room(roomId) ?? null;
  if (view === null) {
    // Named by the viewer's user ID, which the request learns alongside its own calls.
    viewer.account().then(
      (account) => views.warm(account),
      () => {},
    );
  }
  return listing === null ? null : { roomId, listing };
}

builder.queryFields((t) => ({
  room: t.field({
    type: RoomRef,
    nullable: true,
    description:
      'A room by its ID (`!…`), the same as `node(id:)`. FORBIDDEN when the viewer may not see the room; for an alias, use `roomByAlias`.',
    args: {
      id: t.arg.id({ required: true, description: 'A room ID, e.g. `!abc:example.org`.' }),
    },
    resolve: async (_root, args, context, info) => {
      const roomId = requireRoomId(String(args.id), 'id');
      const warm = await warmRoom(context, roomId);
      if (warm !== null) {
        return warm;
      }
      const room = loadRoom(context, roomId);
      // Only once the token is known good: until then, calls wait for the first one's answer,
      // which must be the room's own check (a refused token costs that one call).
      if (context.session.authenticated && context.session.viewer.client.sendsInParallel) {
        prefetchRoomFields(context, roomId, info);
      }
      return room;
    },
  }),
  roomByAlias: t.field({
    type: RoomRef,
    nullable: true,
    description:
      'The room an alias (`#…`) points to, resolved through the directory (one more upstream call). `null` for an alias nobody has; FORBIDDEN when the viewer may not see the room. Its `id` is the room ID, never the alias.',
    args: {
      alias: t.arg.string({
        required: true,
        description: 'A room alias, e.g. `#lobby:example.org`.',
      }),
    },
    resolve: async (_root, args, context) => {
      const alias = requireRoomAlias(args.alias, 'alias');
      const resolved = await absentAsNull(resolveAlias(context.session.viewer.client, alias));
      return resolved === null ? null : loadRoom(context, resolved.roomId);
    },
  }),
  directRoom: t.field({
    type: RoomRef,
    nullable: true,
    description:
      "The direct-message room with a user, from the viewer's `m.direct` account data: the newest one the viewer is still in (joined or invited); `null` when there is none.",
    args: {
      userId: t.arg.id({
        required: true,
        description: 'The other user, e.g. `@bob:example.org`.',
      }),
    },
    resolve: async (_root, args, context) => {
      const userId = requireUserId(String(args.userId), 'userId');
      const list = await context.session.loaders.roomList(false);
      const roomId = findDirectRoom(list.direct, userId, list.rooms);
      const listing = list.rooms.find((room) => room.roomId === roomId);
      return roomId === null || listing === undefined ? null : { roomId, listing };
    },
  }),
}));
