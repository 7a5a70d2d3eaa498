/**
 * Subscriptions: live updates from the sync bridge (`src/sync`), which keeps one long-poll
 * `/sync` per access token however many subscriptions and connections that token has.
 */
import type { ClientEvent } from '../matrix/events.ts';
import type { MembershipState } from '../matrix/room-state.ts';
import { inviteListing } from '../room/room-list.ts';
import type { StateIndex } from '../room/state-index.ts';
import type { StreamEnd, SyncUpdateKind, SyncUpdateOf } from '../sync/sync-events.ts';
import { type StreamSelector, TooManyStreamsError } from '../sync/sync-hub.ts';
import type { UpdateStream } from '../sync/update-stream.ts';
import { builder, type Context } from './builder.ts';
import { facadeError } from './errors.ts';
import { MembershipEnum, RoomEventRef, StateEventRef } from './event.ts';
import { requireRoomId } from './matrix-ids.ts';
import { RoomRef, type RoomShape } from './room.ts';
import { UserRef } from './user.ts';

builder.subscriptionType({
  description:
    "Live updates from the viewer's one `/sync` long-poll (graphql-ws or SSE). Each item is read fresh when it is pushed.",
});

/**
 * The viewer's updates of `kinds` (in one room, when given), as the stream a subscription
 * iterates. It counts against the token's live subscriptions first, before any upstream call but
 * the viewer's `whoami` (none over graphql-ws): TOO_MANY_SUBSCRIPTIONS when it has all it may.
 * Then, for a room, it checks that the viewer may see the room (one `/state` call, shared by the
 * token's other subscriptions of the room: SyncHub.admit): FORBIDDEN otherwise, as for
 * `room(id:)`, and the stream is given up before it ever subscribed.
 *
 * It ends when the client unsubscribes or goes away (the session's signal), when the server
 * shuts down, after the bridge's `ended` update (the token was revoked) and after `overflow` (the
 * client fell too far behind on updates that cannot be dropped), which the resolvers turn into
 * UNAUTHENTICATED and SUBSCRIPTION_OVERFLOW errors.
 */
async function viewerUpdates<K extends SyncUpdateKind>(
  context: Context,
  selector: StreamSelector<K>,
): Promise<AsyncIterable<SyncUpdateOf<K> | StreamEnd>> {
  const account = await context.session.viewer.account();
  const signal = AbortSignal.any([context.session.signal, context.shutdownSignal]);
  let stream: UpdateStream<SyncUpdateOf<K>>;
  try {
    stream = context.syncHub().stream(account, selector, signal);
  } catch (error) {
    if (error instanceof TooManyStreamsError) {
      throw facadeError(
        'TOO_MANY_SUBSCRIPTIONS',
        `This token already has ${error.limit} live subscriptions, the most it may; end one first.`,
        { extensions: { limit: error.limit } },
      );
    }
    throw error;
  }
  const { roomId } = selector;
  if (roomId !== undefined) {
    try {
      // One check per room for all of the token's subscriptions of it.
      await context
        .syncHub()
        .admit(account, roomId, () =>
          context.session.loaders.roomState.load(roomId).then(() => undefined),
        );
    } catch (error) {
      await stream.return();
      throw error;
    }
  }
  return stream;
}

/**
 * The room's state after a `state` update, fetched once however many `roomUpdated`
 * subscriptions receive that update: the hub hands every subscription of a token the same update
 * object, and a token's subscriptions may all read what one of them fetched. A failed fetch is
 * not shared: each subscription then tries with its own session.
 */
const stateAfterUpdate = new WeakMap<SyncUpdateOf<'state'>, Promise<StateIndex>>();

function stateAfter(update: SyncUpdateOf<'state'>, context: Context): Promise<StateIndex> {
  let state = stateAfterUpdate.get(update);
  if (state === undefined) {
    state = context.session.loaders.roomState.load(update.roomId);
    stateAfterUpdate.set(update, state);
    state.catch(() => stateAfterUpdate.delete(update));
  }
  return state.catch(() => context.session.loaders.roomState.load(update.roomId));
}

/**
 * The update a subscription resolves, read against fresh data: the subscription's session lives
 * as long as the subscription, so what its loaders cached for the previous update is dropped
 * first. `ended` becomes its upstream error (src/server/yoga.ts maps M_UNKNOWN_TOKEN to
 * UNAUTHENTICATED), and `overflow` SUBSCRIPTION_OVERFLOW; the stream ends after either.
 */
function fresh<U extends { kind: SyncUpdateKind }>(context: Context, update: U | StreamEnd): U {
  context.session.invalidate();
  if (update.kind === 'ended') {
    throw update.error;
  }
  if (update.kind === 'overflow') {
    throw facadeError(
      'SUBSCRIPTION_OVERFLOW',
      `The client fell more than ${update.limit} updates behind; everything before this error was delivered and the subscription has ended. Subscribe again, and reload what it covers.`,
      { extensions: { limit: update.limit } },
    );
  }
  return update;
}

/** One item of `roomEvents`: a new event, or word that events were missed. */
type RoomEventsItem = SyncUpdateOf<'timeline'> | SyncUpdateOf<'gap'>;

const TimelineGapRef = builder.objectRef<SyncUpdateOf<'gap'>>('TimelineGap').implement({
  description:
    'Events of the room between the one delivered before and the one delivered next could not all be recovered (after a connection loss, more was missed than the bridge backfills). Reload the timeline, e.g. with `room.messages(last:)`, to fill it.',
  fields: (t) => ({
    room: t.field({
      type: RoomRef,
      description: 'The room whose timeline has the gap.',
      resolve: (gap) => ({ roomId: gap.roomId, listing: null }),
    }),
  }),
});

const RoomEventsUpdateRef = builder.objectRef<RoomEventsItem>('RoomEventsUpdate').implement({
  description:
    'One item of `roomEvents`, in timeline order: a new event (`event`), or a gap (`gap`) where events were missed. Exactly one of the two is set.',
  fields: (t) => ({
    event: t.field({
      type: RoomEventRef,
      nullable: true,
      description: 'The new event; `null` when this item is a gap.',
      resolve: (item) => (item.kind === 'timeline' ? item.event : null),
    }),
    gap: t.field({
      type: TimelineGapRef,
      nullable: true,
      description: 'Set when events were missed before the next event; `null` for an event.',
      resolve: (item) => (item.kind === 'gap' ? item : null),
    }),
  }),
});

builder.subscriptionField('roomEvents', (t) =>
  t.field({
    type: RoomEventsUpdateRef,
    description:
      'Every new event of the room’s timeline (state events included), or only of `types`: in order, each once, gaps after a connection loss filled from history. When more was missed than can be recovered, an item with `gap` set says so and the stream goes on. Ends with UNAUTHENTICATED if the token is revoked.',
    args: {
      roomId: t.arg.id({ required: true, description: 'The room, by ID.' }),
      types: t.arg.stringList({
        required: false,
        description: 'Only events of these types, e.g. `["m.room.message"]` (gaps still come).',
      }),
    },
    subscribe: async (_root, args, context) => {
      const roomId = requireRoomId(String(args.roomId), 'roomId');
      const types = args.types ?? null;
      return viewerUpdates(context, { kinds: ['timeline', 'gap'], roomId, eventTypes: types });
    },
    resolve: (update: RoomEventsItem | StreamEnd, _args, context): RoomEventsItem =>
      fresh(context, update),
  }),
);

/** What changes a room for `roomUpdated`: its state, or the viewer's unread counts or tags. */
type RoomUpdatedItem = SyncUpdateOf<'state'> | SyncUpdateOf<'unread'> | SyncUpdateOf<'tags'>;

/**
 * Makes what the update carries the session's answer for the room: the state fetched once per
 * update (stateAfter), the unread counts or tags as the update says them (no call). An update of
 * counts or tags changes no state: the state the previous item read (`carried`, when it read any)
 * still holds, since a change would have come as a `state` item; a message that notifies the
 * viewer then costs no `/state` call however the subscription selects the room.
 */
async function primeFromUpdate(
  context: Context,
  item: RoomUpdatedItem,
  carried: Promise<StateIndex> | undefined,
): Promise<void> {
  const loaders = context.session.loaders;
  const state = item.kind === 'state' ? stateAfter(item, context) : carried;
  const known = await state?.catch(() => undefined);
  if (known !== undefined) {
    loaders.roomState.prime(item.roomId, known);
  }
  if (item.kind === 'unread') {
    loaders.unreadNotifications.prime(item.roomId, item.counts);
  } else if (item.kind === 'tags') {
    loaders.roomTags.prime(item.roomId, item.tags);
  }
}

builder.subscriptionField('roomUpdated', (t) =>
  t.field({
    type: RoomRef,
    description:
      "The room, each time its state changes (name, topic, avatar, power levels, members…), the viewer's unread counts in it change (a new message that notifies them, a read from any of their clients) or their tags on it change, read fresh: `unreadNotifications` or `tags` come with the item that changed them, at no call.",
    args: { roomId: t.arg.id({ required: true, description: 'The room, by ID.' }) },
    subscribe: async (_root, args, context) => {
      const roomId = requireRoomId(String(args.roomId), 'roomId');
      return viewerUpdates(context, { kinds: ['state', 'unread', 'tags'], roomId });
    },
    resolve: async (update: RoomUpdatedItem | StreamEnd, args, context): Promise<RoomShape> => {
      const carried = context.session.loaders.cachedRoomState(String(args.roomId));
      const item = fresh(context, update);
      await primeFromUpdate(context, item, carried);
      return { roomId: item.roomId, listing: null };
    },
  }),
);

interface MembershipUpdateShape {
  room: RoomShape;
  membership: MembershipState;
  event: ClientEvent | null;
}

const MembershipUpdateRef = builder.objectRef<MembershipUpdateShape>('MembershipUpdate').implement({
  description: "A change of the viewer's own membership in a room.",
  fields: (t) => ({
    room: t.field({
      type: RoomRef,
      description: 'The room; for an invite, what the inviter shared of it.',
      resolve: (update) => update.room,
    }),
    membership: t.field({
      type: MembershipEnum,
      description: "The viewer's membership now.",
      resolve: (update) => update.membership,
    }),
    event: t.field({
      type: StateEventRef,
      nullable: true,
      description: "The viewer's member event; `null` for an invite (its state is stripped).",
      resolve: (update) => update.event,
    }),
  }),
});

builder.subscriptionField('myMembership', (t) =>
  t.field({
    type: MembershipUpdateRef,
    description:
      "The viewer's own invites, joins, leaves, kicks and bans, across all rooms, as they happen. A client that falls hundreds of updates behind gets a SUBSCRIPTION_OVERFLOW error after all it had missed, and the subscription ends.",
    subscribe: (_root, _args, context) => viewerUpdates(context, { kinds: ['membership'] }),
    resolve: (
      update: SyncUpdateOf<'membership'> | StreamEnd,
      _args,
      context,
    ): MembershipUpdateShape => {
      const change = fresh(context, update);
      // An invited viewer cannot read the room's state yet: the invite state stands in for it.
      const listing =
        change.membership === 'invite' ? inviteListing(change.roomId, change.inviteState) : null;
      return {
        room: { roomId: change.roomId, listing },
        membership: change.membership,
        event: change.event,
      };
    },
  }),
);

builder.subscriptionField('typing', (t) =>
  t.field({
    type: [UserRef],
    description: 'Who is typing in the room, each time that changes (an empty list: nobody).',
    args: { roomId: t.arg.id({ required: true, description: 'The room, by ID.' }) },
    subscribe: async (_root, args, context) => {
      const roomId = requireRoomId(String(args.roomId), 'roomId');
      return viewerUpdates(context, { kinds: ['typing'], roomId });
    },
    resolve: (update: SyncUpdateOf<'typing'> | StreamEnd, _args, context) =>
      fresh(context, update).userIds.map((userId) => ({ userId })),
  }),
);
