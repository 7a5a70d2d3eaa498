/** Rooms: the `Room` node, `room(id:)`, `rooms` and `directRoom`, and the fields derived from state. */
import { resolveAlias } from '../matrix/directory.ts';
import { upstreamStatus } from '../matrix/errors.ts';
import type { MembershipState } from '../matrix/room-state.ts';
import { builder, type Context } from './builder.ts';
import { arrayConnection } from './connection-args.ts';
import { MembershipEnum } from './event.ts';
import { loaders, type RoomListing } from './loaders.ts';
import { requireRoomIdOrAlias, requireUserId } from './matrix-ids.ts';
import { type PowerLevelsData, PowerLevelsRef, powerLevelsFrom } from './power-levels.ts';
import type { StateEntry, StateIndex } from './state-index.ts';
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
  return loaders(context).roomState.load(room.roomId);
}

/**
 * State for the room's summary fields: what the room list already holds (every type but
 * `m.room.member`; for an invite, what the inviter shared), else the full state.
 */
function summaryStateOf(context: Context, room: RoomShape): Promise<StateIndex> | StateIndex {
  return room.listing?.state ?? fullStateOf(context, room);
}

async function summaryContent(context: Context, room: RoomShape, type: string, key: string) {
  const value = (await summaryStateOf(context, room)).content(type)?.[key];
  return typeof value === 'string' ? value : null;
}

/** The room's power levels, as its current `m.room.power_levels` (or the spec's defaults). */
export async function powerLevelsOf(context: Context, room: RoomShape): Promise<PowerLevelsData> {
  const state = await summaryStateOf(context, room);
  return powerLevelsFrom(state.get('m.room.power_levels'), state.get('m.room.create'));
}

async function membershipOf(context: Context, room: RoomShape): Promise<MembershipState | null> {
  if (room.listing) {
    return room.listing.membership;
  }
  const [viewer, state] = await Promise.all([
    loaders(context).viewer(),
    fullStateOf(context, room),
  ]);
  return membershipIn(state.get('m.room.member', viewer.userId));
}

function membershipIn(entry: StateEntry | null): MembershipState | null {
  const membership = entry?.content['membership'];
  return typeof membership === 'string' ? (membership as MembershipState) : null;
}

/**
 * How many members are in `membership`: from the room list's summary when it has one, else counted
 * in the full state. `null` for an invite or knock: the viewer may not see the member list yet.
 */
async function memberCount(
  context: Context,
  room: RoomShape,
  membership: 'join' | 'invite',
): Promise<number | null> {
  const fromList =
    membership === 'join' ? room.listing?.joinedMemberCount : room.listing?.invitedMemberCount;
  if (fromList !== null && fromList !== undefined) {
    return fromList;
  }
  if (room.listing?.membership === 'invite' || room.listing?.membership === 'knock') {
    return null;
  }
  const state = await fullStateOf(context, room);
  return state.entries(['m.room.member']).filter((entry) => membershipIn(entry) === membership)
    .length;
}

/**
 * `room(id:)` and `node(id:)`: the room by ID or alias. `null` for an unknown alias; FORBIDDEN
 * when the viewer may not see the room. An invited viewer may not read the room's state yet, so
 * a refused invite is looked up in the room list (its stripped invite state) before giving up.
 */
async function loadRoom(context: Context, idOrAlias: string): Promise<RoomShape | null> {
  requireRoomIdOrAlias(idOrAlias, 'id');
  const roomLoaders = loaders(context);
  let roomId = idOrAlias;
  if (idOrAlias.startsWith('#')) {
    try {
      roomId = (await resolveAlias(roomLoaders.client, idOrAlias)).roomId;
    } catch (error) {
      if (upstreamStatus(error) === 404) {
        return null;
      }
      throw error;
    }
  }
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
  loadOne: (id, context) => loadRoom(context, id),
  fields: (t) => ({
    roomId: t.exposeID('roomId', { description: 'The Matrix room ID (the same as `id`).' }),
    name: t.string({
      nullable: true,
      description: 'From `m.room.name`; `null` when the room has none.',
      resolve: (room, _args, context) => summaryContent(context, room, 'm.room.name', 'name'),
    }),
    topic: t.string({
      nullable: true,
      description: 'From `m.room.topic`.',
      resolve: (room, _args, context) => summaryContent(context, room, 'm.room.topic', 'topic'),
    }),
    avatarUrl: t.string({
      nullable: true,
      description: 'From `m.room.avatar`, an `mxc://` URI.',
      resolve: (room, _args, context) => summaryContent(context, room, 'm.room.avatar', 'url'),
    }),
    canonicalAlias: t.string({
      nullable: true,
      description: 'From `m.room.canonical_alias`, e.g. `#room:example.org`.',
      resolve: (room, _args, context) =>
        summaryContent(context, room, 'm.room.canonical_alias', 'alias'),
    }),
    joinRule: t.string({
      nullable: true,
      description:
        'From `m.room.join_rules`: `public`, `invite`, `knock`, `restricted`, `knock_restricted` or `private`.',
      resolve: (room, _args, context) =>
        summaryContent(context, room, 'm.room.join_rules', 'join_rule'),
    }),
    historyVisibility: t.string({
      nullable: true,
      description:
        'From `m.room.history_visibility`: `invited`, `joined`, `shared` or `world_readable`.',
      resolve: (room, _args, context) =>
        summaryContent(context, room, 'm.room.history_visibility', 'history_visibility'),
    }),
    guestAccess: t.string({
      nullable: true,
      description: 'From `m.room.guest_access`: `can_join` or `forbidden`.',
      resolve: (room, _args, context) =>
        summaryContent(context, room, 'm.room.guest_access', 'guest_access'),
    }),
    creator: t.field({
      type: UserRef,
      nullable: true,
      description:
        'Who created the room: the `m.room.create` sender (its `creator` field in room versions before 11).',
      resolve: async (room, _args, context) => {
        const create = (await summaryStateOf(context, room)).get('m.room.create');
        const creator = create?.content['creator'];
        const userId = typeof creator === 'string' ? creator : create?.sender;
        return userId ? { userId } : null;
      },
    }),
    roomVersion: t.string({
      nullable: true,
      description: 'From `m.room.create` (`1` when the event does not say).',
      resolve: async (room, _args, context) => {
        const create = (await summaryStateOf(context, room)).content('m.room.create');
        if (create === null) {
          return null;
        }
        const version = create['room_version'];
        return typeof version === 'string' ? version : '1';
      },
    }),
    isEncrypted: t.boolean({
      description:
        'Whether the room has `m.room.encryption` state (messages are end-to-end encrypted).',
      resolve: async (room, _args, context) =>
        (await summaryStateOf(context, room)).get('m.room.encryption') !== null,
    }),
    isDirect: t.boolean({
      description:
        "Whether the viewer's `m.direct` account data lists the room as a direct chat (for an invite: whether the invite was marked direct).",
      resolve: async (room, _args, context) => {
        const roomLoaders = loaders(context);
        if (room.listing?.membership === 'invite') {
          const viewer = await roomLoaders.viewer();
          return room.listing.state.content('m.room.member', viewer.userId)?.['is_direct'] === true;
        }
        const direct = await roomLoaders.directRooms();
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
      resolve: (room, _args, context) => powerLevelsOf(context, room),
    }),
  }),
});

/** A user's membership in one room, from their `m.room.member` state. */
export interface RoomMemberShape {
  userId: string;
  content: Record<string, unknown>;
  powerLevel: number;
}

const RoomMemberRef = builder.objectRef<RoomMemberShape>('RoomMember').implement({
  description: "A user's membership in a room, with the room-specific profile.",
  fields: (t) => ({
    user: t.field({ type: UserRef, resolve: (member) => ({ userId: member.userId }) }),
    displayName: t.string({
      nullable: true,
      description: 'The name shown in this room (may differ from the global one).',
      resolve: (member) => stringField(member.content, 'displayname'),
    }),
    avatarUrl: t.string({
      nullable: true,
      description: 'The avatar shown in this room, an `mxc://` URI.',
      resolve: (member) => stringField(member.content, 'avatar_url'),
    }),
    membership: t.field({
      type: MembershipEnum,
      resolve: (member) =>
        (stringField(member.content, 'membership') ?? 'leave') as MembershipState,
    }),
    powerLevel: t.int({ resolve: (member) => member.powerLevel }),
    reason: t.string({
      nullable: true,
      description: 'Why the membership last changed, when a reason was given (kick, ban, leave).',
      resolve: (member) => stringField(member.content, 'reason'),
    }),
  }),
});

function stringField(content: Record<string, unknown>, key: string): string | null {
  const value = content[key];
  return typeof value === 'string' ? value : null;
}

builder.objectField(RoomRef, 'members', (t) =>
  t.connection(
    {
      type: RoomMemberRef,
      description:
        'Members in every membership state, or only `membership`; by power level (highest first), then display name.',
      args: { membership: t.arg({ type: MembershipEnum, required: false }) },
      resolve: async (room, args, context) => {
        const [state, powerLevels] = await Promise.all([
          fullStateOf(context, room),
          powerLevelsOf(context, room),
        ]);
        const members = state
          .entries(['m.room.member'])
          .filter((entry) => !args.membership || membershipIn(entry) === args.membership)
          .map((entry) => ({
            userId: entry.stateKey,
            content: entry.content,
            powerLevel: powerLevels.levelOf(entry.stateKey),
          }))
          .sort(
            (a, b) =>
              b.powerLevel - a.powerLevel ||
              sortName(a).localeCompare(sortName(b)) ||
              a.userId.localeCompare(b.userId),
          );
        return arrayConnection(args, members);
      },
    },
    { name: 'RoomMemberConnection' },
    { name: 'RoomMemberEdge' },
  ),
);

function sortName(member: RoomMemberShape): string {
  return (stringField(member.content, 'displayname') ?? member.userId.slice(1)).toLowerCase();
}

builder.queryFields((t) => ({
  room: t.field({
    type: RoomRef,
    nullable: true,
    description:
      'A room by ID (`!…`) or alias (`#…`). `null` for an unknown alias; FORBIDDEN when the viewer may not see the room.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, context) => loadRoom(context, String(args.id)),
  }),
  rooms: t.connection(
    {
      type: RoomRef,
      description:
        "The viewer's rooms in one membership state (joined by default), most recently active first. Costs one upstream call (a filtered /sync) for the whole list.",
      args: {
        membership: t.arg({ type: MembershipEnum, required: false, defaultValue: 'join' }),
      },
      resolve: async (_root, args, context) => {
        const membership = args.membership ?? 'join';
        const list = await loaders(context).roomList(membership === 'leave');
        const rooms = list.rooms
          .filter((room) => room.membership === membership)
          .sort((a, b) => b.lastActivityTs - a.lastActivityTs || a.roomId.localeCompare(b.roomId))
          .map((listing) => ({ roomId: listing.roomId, listing }));
        return arrayConnection(args, rooms);
      },
    },
    { name: 'RoomConnection' },
    { name: 'RoomEdge' },
  ),
  directRoom: t.field({
    type: RoomRef,
    nullable: true,
    description:
      "The direct-message room with a user, from the viewer's `m.direct` account data: the newest one the viewer is still in (joined or invited); `null` when there is none.",
    args: { userId: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => {
      const userId = requireUserId(String(args.userId), 'userId');
      const list = await loaders(context).roomList(false);
      const candidates = list.direct.get(userId) ?? [];
      for (const roomId of [...candidates].reverse()) {
        const listing = list.rooms.find(
          (room) =>
            room.roomId === roomId && (room.membership === 'join' || room.membership === 'invite'),
        );
        if (listing) {
          return { roomId, listing };
        }
      }
      return null;
    },
  }),
}));
