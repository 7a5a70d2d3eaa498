/**
 * What an operation may cost upstream, weighed before it runs: each field counts the upstream
 * calls it can make at worst, and a list multiplies what is selected under it by its page size.
 * The weights live here, in one table that docs/queries.md mirrors; the Pothos complexity plugin
 * (registered in builder.ts with {@link fieldCost}) walks the document with them, through
 * fragments, inline fragments and aliases, with the arguments as execution will see them.
 */
import { complexityFromQuery, type FieldComplexityValue } from '@pothos/plugin-complexity';
import {
  type DocumentNode,
  type GraphQLField,
  type GraphQLOutputType,
  getNamedType,
  isListType,
  isNonNullType,
  Kind,
  type ValidatedExecutionArgs,
} from 'graphql';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './connection-args.ts';

/**
 * The size assumed for a list without a page size (`Room.state`, `PowerLevels.users`,
 * `typing`…): the largest page a connection may have.
 */
export const UNBOUNDED_LIST_SIZE = MAX_PAGE_SIZE;

/**
 * How many `/messages` calls one `Room.messages` page may make at worst (its top-ups under a
 * `types` filter): `MAX_CALLS_PER_PAGE` in room-timeline.ts.
 */
export const MESSAGES_CALLS_PER_PAGE = 20;

type Args = Record<string, unknown>;
type Weight = FieldComplexityValue | ((args: Args) => FieldComplexityValue);

/** The page a connection's `first`/`last` ask for (20 by default; a size past 100 is refused). */
export function pageSize(args: Args): number {
  const asked = args['first'] ?? args['last'];
  const size = typeof asked === 'number' ? asked : DEFAULT_PAGE_SIZE;
  return Math.min(Math.max(size, 0), MAX_PAGE_SIZE);
}

/** A connection: `calls` for the page itself, its items' selections multiplied by its size. */
const page =
  (calls: (args: Args) => number): Weight =>
  (args) => ({ field: calls(args), multiplier: pageSize(args) });

/** A mutation that makes `calls` upstream calls. */
const calls = (count: number): Weight => count;

/** Every room-state read of a room not known from the room list: one `/state` (batched). */
const ROOM_STATE = 1;

/**
 * Upstream calls by `Type.field`. Fields not listed cost nothing (they read what their parent
 * fetched); a `Room` reached from anywhere but the room list or `room(id:)` costs
 * {@link ROOM_STATE} (see {@link fieldCost}). Calls a request makes at most once whatever it
 * selects (`whoami` for `myMembership`, `m.direct` for `isDirect`) are not counted: the runtime
 * budget covers them.
 */
export const FIELD_WEIGHTS: Readonly<Record<string, Weight>> = {
  'Query.viewer': 1, // whoami
  'Query.usernameAvailable': 1, // GET /register/available
  'Viewer.devices': { field: 1, multiplier: UNBOUNDED_LIST_SIZE }, // GET /devices
  'Viewer.threepids': { field: 1, multiplier: UNBOUNDED_LIST_SIZE }, // GET /account/3pid
  // One sliding sync or one filtered /sync for the list, whichever the plan (room.ts). Not
  // counted: the /versions probe (once per process), and the /sync a request falls back to when
  // the homeserver stops offering sliding sync (once, then /sync until the next probe).
  'Query.rooms': page(() => 1),
  'Query.room': 2, // /state; an invited room: /state refused, then /sync
  'Query.roomByAlias': 3, // directory lookup, then as room(id:)
  'Query.node': 2, // as room(id:) (a user: one profile)
  'Query.nodes': (args) => {
    const count = Array.isArray(args['ids']) ? args['ids'].length : 0;
    return { field: 2 * count, multiplier: count };
  },
  'Query.user': 1, // profile
  'Query.directRoom': 1, // /sync
  'Query.publicRooms': page(() => 1), // one directory page (more only when the directory's pages are short)
  'Query.resolveAlias': 1, // directory lookup
  'Room.members': page(() => ROOM_STATE), // the room's state (rooms of a list share one /sync)
  'Room.state': { field: ROOM_STATE, multiplier: UNBOUNDED_LIST_SIZE },
  'Room.stateEvent': ROOM_STATE,
  'Room.event': 1, // /event
  'Room.aliases': 1, // GET /rooms/{roomId}/aliases
  // Worst case: a page tops up to MESSAGES_CALLS_PER_PAGE times, plus a /context from a cursor.
  'Room.messages': page(
    (args) => MESSAGES_CALLS_PER_PAGE + (args['after'] != null || args['before'] != null ? 1 : 0),
  ),
  // A listed room reads its counts from the list; any other: one /sync for all such rooms.
  'Room.unreadNotifications': 1,
  'Room.readMarker': 1, // m.fully_read room account data
  'ReadMarker.event': 1, // /event
  'Room.tags': 1, // GET tags (+ whoami once per request)
  'User.displayName': 1, // profile (one per user, shared with avatarUrl)
  'User.avatarUrl': 1,
  'Subscription.roomUpdated': ROOM_STATE, // per event
  // Per push: the page's rooms come from the warm view (no call); their fields weigh per room.
  'Subscription.roomList': page(() => 0),
  'RoomListPage.rooms': { field: 0, multiplier: 1 },
  'Mutation.createSession': calls(1),
  'Mutation.deleteSession': calls(1),
  'Mutation.register': calls(1), // POST /register
  'Mutation.changePassword': calls(2), // whoami (the m.login.password user), the change
  'Mutation.deleteDevice': calls(2), // whoami (the m.login.password user), the delete
  'Mutation.joinRoom': calls(1),
  'Mutation.leaveRoom': calls(1),
  'Mutation.forgetRoom': calls(1),
  'Mutation.inviteToRoom': calls(1),
  'Mutation.kickFromRoom': calls(1),
  'Mutation.banFromRoom': calls(1),
  'Mutation.unbanFromRoom': calls(1),
  'Mutation.revokeRoomInvite': calls(2), // the member event, then the kick
  'Mutation.sendMessage': calls(1),
  'Mutation.redactEvent': calls(1),
  'Mutation.markRead': calls(1), // read_markers
  'Mutation.setTyping': calls(2), // whoami, typing
  'Mutation.setRoomTag': calls(2), // whoami, the tag
  'Mutation.removeRoomTag': calls(2), // whoami, the tag
  'Mutation.setRoomName': calls(1),
  'Mutation.setRoomTopic': calls(1),
  'Mutation.setRoomAvatar': calls(1),
  'Mutation.setRoomDisplayName': calls(4), // whoami, member event, profile, the new event
  'Mutation.setRoomPowerLevel': calls(2), // the power levels, then the new event
  'Mutation.createRoom': calls(1),
  'Mutation.createRoomAlias': calls(1),
  'Mutation.deleteRoomAlias': calls(2), // resolve (for the payload's room), then delete
  'Mutation.setCanonicalAlias': calls(2), // the current event, then the new one
  'Mutation.setDisplayName': calls(2), // whoami, then the profile PUT (or DELETE)
  'Mutation.setAvatarUrl': calls(2),
  'Mutation.sendEvent': calls(1),
  'Mutation.setRoomState': calls(1),
  'Mutation.createDirectRoom': calls(5), // whoami, /sync, createRoom, m.direct read and write
  // Shut down: whoami, admin check, /state, join rule, directory, aliases, leave, forget, and a
  // kick per member (counted as an unbounded list); an admin purge polls less than that.
  'Mutation.deleteRoom': calls(8 + UNBOUNDED_LIST_SIZE),
};

/** Fields returning a `Room` that the room list or `room(id:)` already fetched. */
const ROOMS_ALREADY_READ = new Set(['RoomEdge.node']);

/**
 * The complexity plugin's `fieldComplexity`: the weight of `field` from {@link FIELD_WEIGHTS}.
 * An unlisted list multiplies its items by {@link UNBOUNDED_LIST_SIZE}, except a connection's
 * `edges`, whose field already multiplied them by the page size.
 */
export function fieldCost<Context>(
  args: Args,
  _context: Context,
  field: GraphQLField<unknown, Context, Args>,
): FieldComplexityValue {
  const parent = field.parentType?.name ?? '';
  const key = `${parent}.${field.name}`;
  const weight = FIELD_WEIGHTS[key];
  if (weight !== undefined) {
    return typeof weight === 'function' ? weight(args) : weight;
  }
  if (isList(field.type)) {
    const isEdges = field.name === 'edges' && parent.endsWith('Connection');
    return { field: 0, multiplier: isEdges ? 1 : UNBOUNDED_LIST_SIZE };
  }
  if (getNamedType(field.type).name === 'Room' && !ROOMS_ALREADY_READ.has(key)) {
    return ROOM_STATE;
  }
  return 0;
}

function isList(type: GraphQLOutputType): boolean {
  return isListType(type) || (isNonNullType(type) && isListType(type.ofType));
}

/**
 * The cost of the operation execution is about to run: the one `operationName` selected (graphql's
 * `validateExecutionArgs` picks it), with its variables coerced as execution coerces them
 * (defaults applied), so `first: $n` counts `$n`.
 */
export function operationCost(
  args: Pick<
    ValidatedExecutionArgs,
    'schema' | 'operation' | 'fragmentDefinitions' | 'rawVariableValues'
  >,
  context: object,
): number {
  const document: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [args.operation, ...Object.values(args.fragmentDefinitions)],
  };
  // The plugin coerces the raw values itself, as execution does.
  return complexityFromQuery(document, {
    schema: args.schema,
    ctx: context,
    variables: { ...args.rawVariableValues },
  }).complexity;
}
