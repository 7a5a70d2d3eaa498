/** The room timeline and state on Room: messages (cursor pagination), state, stateEvent, event. */

import type { ClientEvent, RoomEventFilter } from '../matrix/events.ts';
import { absentAsNull } from '../matrix/policy.ts';
import { getEventContext, getMessages } from '../matrix/room-events.ts';
import type { RecentEvents } from '../room/room-list.ts';
import { eventKey } from '../session/request-loaders.ts';
import { builder, type Context } from './builder.ts';
import { type ConnectionArgs, pageRequest } from './connection-args.ts';
import {
  decodeTimelineCursor,
  encodeTimelineCursor,
  type SealedConnection,
  sealedConnection,
  type TimelineScope,
} from './cursor.ts';
import { RoomEventRef, StateEventRef } from './event.ts';
import { requireEventId } from './matrix-ids.ts';
import { fullStateOf, RoomRef, type RoomShape } from './room.ts';
import { prefetchRoomField, roomFieldArgs } from './room-prefetch.ts';

/**
 * The most events one `/messages` call asks for while topping up a page: a page comes back short
 * when the homeserver drops events the viewer may not see, and a stretch of invisible history
 * is crossed faster with larger requests.
 */
const MAX_UPSTREAM_LIMIT = 1000;

/**
 * How many `/messages` calls one page may make before it settles for what it has (with the
 * has-more flag set, since the homeserver still had an `end`). Only reached when long stretches of
 * history are invisible to the viewer.
 */
const MAX_CALLS_PER_PAGE = 20;

interface MessagesArgs extends ConnectionArgs {
  types?: readonly string[] | null | undefined;
}

type EventPage = SealedConnection<ClientEvent>;

/** An event page's edges hold the events themselves. */
const eventNode = (event: ClientEvent): ClientEvent => event;

/**
 * One page of `Room.messages`, with Relay semantics on top of `/messages`.
 *
 * A cursor names an event (signed, bound to the room and the `types` filter: see cursor.ts). To
 * resume next to it, `/context` with `limit: 0` gives the tokens around that event, and the page
 * is read with `/messages` from there. Matrix tokens mark positions between chunks, not events,
 * so a cursor holding a chunk token alone could not say where inside the chunk a page ended.
 *
 * Only the context's `end` token is used, in both directions. Verified against Synapse 1.160:
 * paging forward from `end` starts right after the event; paging backward from `end` starts *at*
 * the event (so it is dropped from the results). The context's `start` token is unusable:
 * Synapse makes it (depth − 1, stream position), and events sent concurrently share a depth
 * (a batch of parallel sends all get the same one), so paging back from `start` silently skips
 * the earlier events of the same depth.
 *
 * Each page asks for one event more than it returns, so `hasNextPage` (forward) or
 * `hasPreviousPage` (backward) is exact; a short answer that still has an `end` is topped up with
 * further calls (Synapse ends a history only with an empty chunk without `end`).
 */
/**
 * The pages asked for so far, per request: by the session's loaders, which a write or a
 * subscription's next event replaces, so a page is never read from before either.
 */
const pagesByLoaders = new WeakMap<object, Map<string, Promise<EventPage>>>();

/**
 * The page the room list already holds (`rooms` asks for the newest events its rooms' pages
 * want), at once: no upstream call, and no promise for graphql to await room by room. Else
 * {@link messagesPage}, once per room and arguments in a request (`room(id:)` may start it).
 */
function messagesPageOnce(
  context: Context,
  room: RoomShape,
  args: MessagesArgs,
): EventPage | Promise<EventPage> {
  const recent = room.listing?.recentEvents;
  const listed = recent ? pageFromList(context.cursorKey, room.roomId, recent, args) : null;
  return listed ?? loadedMessagesPage(context, room.roomId, args);
}

/** {@link messagesPage}, once per room and arguments in a request. */
function loadedMessagesPage(
  context: Context,
  roomId: string,
  args: MessagesArgs,
): Promise<EventPage> {
  const loaders = context.session.loaders;
  let pages = pagesByLoaders.get(loaders);
  if (pages === undefined) {
    pages = new Map();
    pagesByLoaders.set(loaders, pages);
  }
  const { first, last, after, before, types } = args;
  const key = JSON.stringify([roomId, first, last, after, before, types]);
  let page = pages.get(key);
  if (page === undefined) {
    page = messagesPage(context, roomId, args);
    pages.set(key, page);
  }
  return page;
}

// A room page's timeline goes out with the room's visibility check, not after it.
prefetchRoomField('messages', (context, roomId, field, info) => {
  const args = roomFieldArgs<MessagesArgs>(field, info);
  if (args !== null) {
    // Read (or refused) by the field's resolver; nobody reads it when the room is refused.
    loadedMessagesPage(context, roomId, args).catch(() => {});
  }
});

/**
 * The newest page (`last: N`, no cursor) from a room's newest events as the room list fetched
 * them, when they settle it: more than N of the wanted types (so older ones exist), or all of the
 * room's history. `null` when they do not, or for any other page: `/messages` serves it. A `types`
 * filter with a wildcard is left to the homeserver, which matches those.
 */
function pageFromList(
  cursorKey: Uint8Array,
  roomId: string,
  recent: RecentEvents,
  args: MessagesArgs,
): EventPage | null {
  if (args.last == null || args.after != null || args.before != null) {
    return null;
  }
  const { size } = pageRequest(args);
  const types = args.types ?? null;
  if (types !== null && (types.length === 0 || types.some((type) => type.includes('*')))) {
    return null;
  }
  const events =
    types === null ? recent.events : recent.events.filter((event) => types.includes(event.type));
  if (events.length <= size && !recent.complete) {
    return null;
  }
  const scope: TimelineScope = { roomId, types };
  return sealedConnection(
    events.slice(Math.max(0, events.length - size)),
    { node: eventNode, cursor: (event) => encodeTimelineCursor(cursorKey, scope, event.eventId) },
    { hasNextPage: false, hasPreviousPage: events.length > size },
  );
}

async function messagesPage(
  context: Context,
  roomId: string,
  args: MessagesArgs,
): Promise<EventPage> {
  const { size, backward } = pageRequest(args);
  const scope: TimelineScope = { roomId, types: args.types ?? null };
  // Every argument is checked before the first upstream call.
  let anchor: string | null = null;
  if (args.after != null) {
    anchor = decodeTimelineCursor(context.cursorKey, scope, args.after, 'after');
  } else if (args.before != null) {
    anchor = decodeTimelineCursor(context.cursorKey, scope, args.before, 'before');
  }
  if (scope.types?.length === 0) {
    // No type is wanted, so no event matches: nothing to ask the homeserver.
    return {
      edges: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    };
  }
  const client = context.session.viewer.client;
  const filter: RoomEventFilter | undefined = scope.types ? { types: [...scope.types] } : undefined;

  let from: string | undefined;
  if (anchor !== null) {
    const around = await getEventContext(client, roomId, anchor, {
      limit: 0,
      // Only the tokens are needed. Synapse applies the filter to the room state /context also
      // returns, so this leaves all of it out (the event itself still comes back).
      filter: { notTypes: ['*'] },
    });
    if (around.end === null) {
      throw new Error('/context answered without an end token');
    }
    from = around.end;
  }

  // One more than the page, to know whether there is more. Backward from an anchor, the first
  // event returned is the anchor itself.
  const wanted = size + 1;
  const events: ClientEvent[] = [];
  let limit = wanted + (backward && anchor !== null ? 1 : 0);
  let exhausted = false;
  for (let calls = 0; calls < MAX_CALLS_PER_PAGE && events.length < wanted; calls++) {
    const page = await getMessages(client, roomId, {
      dir: backward ? 'b' : 'f',
      ...(from === undefined ? {} : { from }),
      limit,
      ...(filter ? { filter } : {}),
    });
    for (const event of page.chunk) {
      if (event.eventId !== anchor) {
        events.push(event);
      }
    }
    if (page.end === null) {
      exhausted = true;
      break;
    }
    from = page.end;
    limit = Math.min(MAX_UPSTREAM_LIMIT, Math.max(wanted - events.length, limit * 2));
  }

  const more = events.length > size || !exhausted;
  const nodes = events.slice(0, size);
  if (backward) {
    nodes.reverse();
  }
  return sealedConnection(
    nodes,
    {
      node: eventNode,
      cursor: (event) => encodeTimelineCursor(context.cursorKey, scope, event.eventId),
    },
    {
      // Next to a cursor there is always at least its own event on that side.
      hasNextPage: backward ? anchor !== null : more,
      hasPreviousPage: backward ? more : anchor !== null,
    },
  );
}

builder.objectFields(RoomRef, (t) => ({
  messages: t.connection(
    {
      type: RoomEventRef,
      // Per room: one room's refusal (403, 429, 5xx) is null here, not the whole room list.
      nullable: true,
      description:
        "The room's timeline as the viewer may see it, oldest first within a page. `last: N` gives the N most recent events and `before` continues into older history; `first: N` starts at the beginning of the visible history and `after` walks forward to the live end. `types` keeps only events of those types (filtered by the homeserver; pages stay full). Cursors belong to this room and `types` filter. Pages hold 20 events unless asked, at most 100. A page costs one `/messages` call, plus one `/context` call when it continues from a cursor (and one more when it reaches either end of the history, to be sure it is the end).",
      args: {
        types: t.arg.stringList({
          required: false,
          description: 'Only events of these types, e.g. `["m.room.message"]`.',
        }),
      },
      resolve: (room, args, context) => messagesPageOnce(context, room, args),
    },
    {
      name: 'RoomEventConnection',
      description: 'One page of the list: its edges, and where it stands in the whole list.',
    },
    { name: 'RoomEventEdge', description: 'One item of the page (an event) with its cursor.' },
  ),
  state: t.field({
    type: [StateEventRef],
    nullable: true,
    description:
      "The room's current state events (all of them, or only of `types`), ordered by type and state key.",
    args: {
      types: t.arg.stringList({
        required: false,
        description: 'Only state of these types, e.g. `["m.room.member"]`.',
      }),
    },
    resolve: async (room, args, context) => {
      const state = await fullStateOf(context, room);
      return state
        .entries(args.types ?? undefined)
        .flatMap((entry) => (entry.event ? [entry.event] : []))
        .sort((a, b) => compare(a.type, b.type) || compare(a.stateKey ?? '', b.stateKey ?? ''));
    },
  }),
  stateEvent: t.field({
    type: StateEventRef,
    nullable: true,
    description: 'The current state event of `type` under `stateKey`; `null` when there is none.',
    args: {
      type: t.arg.string({ required: true, description: 'The event type, e.g. `m.room.name`.' }),
      stateKey: t.arg.string({
        required: false,
        defaultValue: '',
        description: 'The state key: a user ID for `m.room.member`, else usually empty.',
      }),
    },
    resolve: async (room, args, context) => {
      const state = await fullStateOf(context, room);
      return state.get(args.type, args.stateKey ?? '')?.event ?? null;
    },
  }),
  event: t.field({
    type: RoomEventRef,
    nullable: true,
    description:
      'One event of this room by ID; `null` when the room has no such event or the viewer may not see it.',
    args: { id: t.arg.id({ required: true, description: 'An event ID, e.g. `$abc…`.' }) },
    resolve: async (room, args, context) => {
      const eventId = requireEventId(String(args.id), 'id');
      // Synapse answers 404 M_NOT_FOUND both for unknown events and for invisible ones.
      return absentAsNull(context.session.loaders.event.load(eventKey(room.roomId, eventId)));
    },
  }),
}));

/** Code-point order, the same on every machine (unlike localeCompare). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
