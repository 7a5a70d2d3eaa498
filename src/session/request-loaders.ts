/**
 * One request's caches and batches in front of the upstream client. They belong to one
 * {@link RequestSession}, so they live exactly as long as the request (or until it writes) and
 * only ever hold data fetched with that request's token: one user's answers never reach another.
 */
import DataLoader from 'dataloader';
import { getAccountData, getProfile, type Profile } from '../matrix/account.ts';
import { ConnectionError } from '../matrix/errors.ts';
import type { ClientEvent, RoomEventFilter } from '../matrix/events.ts';
import type { MatrixClient } from '../matrix/matrix-client.ts';
import { getFullyRead } from '../matrix/read-markers.ts';
import { getEvent } from '../matrix/room-events.ts';
import { getRoomState } from '../matrix/room-state.ts';
import { slidingSync, slidingSyncOffered, slidingSyncRefused } from '../matrix/sliding-sync.ts';
import {
  type SyncFilter,
  type SyncResponse,
  sync,
  type UnreadNotifications,
} from '../matrix/sync.ts';
import { getRoomTags, joinedRoomTags, type RoomTag } from '../matrix/tags.ts';
import { directMapFrom } from '../room/direct-rooms.ts';
import {
  fullStateFilter,
  fullStatesFrom,
  type RoomList,
  roomListFilter,
  roomListFrom,
} from '../room/room-list.ts';
import {
  listCovers,
  type SlidingListOptions,
  type SlidingRoomList,
  slidingRoomListFrom,
  slidingRoomListRequest,
} from '../room/sliding-room-list.ts';
import { StateIndex } from '../room/state-index.ts';
import type { Viewer } from './viewer.ts';

export class RequestLoaders {
  /**
   * The whole current state of a room: `GET /rooms/{id}/state` for one room, one filtered `/sync`
   * for several asked for together.
   */
  readonly roomState: DataLoader<string, StateIndex>;
  /** Global profiles (`GET /profile/{userId}`). */
  readonly profile: DataLoader<string, Profile>;
  /** Single events, keyed by {@link eventKey}. */
  readonly event: DataLoader<string, ClientEvent>;
  /**
   * The viewer's unread counts per room, for rooms not read from the room list: one `/sync`
   * filtered to the rooms asked for together (no state, one timeline event); `null` for a room
   * the viewer is not joined to (the sync has no counts for it).
   */
  readonly unreadNotifications: DataLoader<string, UnreadNotifications | null>;
  /** The event of the viewer's fully-read marker per room (`m.fully_read`), `null` when unset. */
  readonly fullyRead: DataLoader<string, string | null>;
  /** The viewer's tags per room (`GET /user/{userId}/rooms/{roomId}/tags`). */
  readonly roomTags: DataLoader<string, RoomTag[]>;
  readonly #viewer: Viewer;
  /** The roomState loader's cache, for {@link RequestLoaders.cachedRoomState}. */
  readonly #roomStates = new Map<string, Promise<StateIndex>>();
  readonly #lists = new Map<boolean, Promise<RoomList>>();
  readonly #slidingLists = new Map<SlidingListOptions, Promise<SlidingRoomList | null>>();
  #directFromAccountData: Promise<Map<string, string[]>> | null = null;

  constructor(viewer: Viewer) {
    const client = viewer.client;
    this.#viewer = viewer;
    this.roomState = new DataLoader((roomIds) => loadRoomStates(client, roomIds), {
      maxBatchSize: MAX_ROOMS_PER_STATE_SYNC,
      cacheMap: this.#roomStates,
    });
    this.profile = new DataLoader(perKey((userId) => getProfile(client, userId)));
    this.event = new DataLoader(
      perKey((key) => {
        const [roomId = '', eventId = ''] = key.split('\n');
        return getEvent(client, roomId, eventId);
      }),
    );
    this.unreadNotifications = new DataLoader((roomIds) => loadUnreadCounts(client, roomIds), {
      maxBatchSize: MAX_ROOMS_PER_STATE_SYNC,
    });
    const userId = () => viewer.whoami().then((identity) => identity.userId);
    this.fullyRead = new DataLoader(
      perKey(async (roomId) => getFullyRead(client, await userId(), roomId)),
    );
    this.roomTags = new DataLoader(
      perKey(async (roomId) => getRoomTags(client, await userId(), roomId)),
    );
  }

  /**
   * The state of the room these loaders read or were given already, if any, without asking: what
   * a subscription carries over to its next item when nothing says the state changed.
   */
  cachedRoomState(roomId: string): Promise<StateIndex> | undefined {
    return this.#roomStates.get(roomId);
  }

  /**
   * The viewer's rooms in every membership, from one filtered `/sync` (left rooms on request). A
   * list with left rooms also answers for one without.
   */
  roomList(includeLeave: boolean): Promise<RoomList> {
    let list = this.#lists.get(includeLeave) ?? (includeLeave ? undefined : this.#lists.get(true));
    if (list === undefined) {
      const { room, accountData } = roomListFilter(includeLeave);
      list = snapshotSync(this.#viewer.client, room, accountData).then((response) =>
        roomListFrom(response, joinedRoomTags(response)),
      );
      this.#lists.set(includeLeave, list);
    }
    return list;
  }

  /**
   * The viewer's joined, invited and knocked rooms from one sliding sync (MSC4186), when the room
   * list plan allows it and the homeserver offers it (`slidingSyncOffered`: `/versions` asked
   * once per upstream, not per request). `null` when `/sync` serves instead: sliding sync not
   * offered, refused by the homeserver now (404/405: forgotten until the next probe), or a list
   * longer than one request reaches. `options` say how many newest events and which state types
   * each room brings, and whether the viewer's tags come along. Asked once per request and options; a list with more also answers for less.
   */
  slidingRoomList(options: SlidingListOptions = {}): Promise<SlidingRoomList | null> {
    for (const [fetched, list] of this.#slidingLists) {
      if (listCovers(fetched, options)) {
        return list;
      }
    }
    const list = this.#loadSlidingList(options);
    this.#slidingLists.set(options, list);
    return list;
  }

  async #loadSlidingList(options: SlidingListOptions): Promise<SlidingRoomList | null> {
    const client = this.#viewer.client;
    if (!(await slidingSyncOffered(client))) {
      return null;
    }
    let list: SlidingRoomList;
    try {
      if (options.members === true) {
        // The viewer's own member event is one of many: who the viewer is, from the last minute's
        // answers for this token when there is one, else asked alongside.
        const known =
          client.accessToken && client.upstream.acceptedTokens.userIdOf(client.accessToken);
        const [answer, viewerId] = await Promise.all([
          slidingSync(client, slidingRoomListRequest(options)),
          known || this.#viewer.whoami().then(({ userId }) => userId),
        ]);
        list = slidingRoomListFrom(answer, options, viewerId);
      } else {
        const answer = await slidingSync(client, slidingRoomListRequest(options));
        list = slidingRoomListFrom(answer, options);
      }
    } catch (error) {
      if (options.members === true && isTooLarge(error)) {
        // Member lists of large rooms made the answer too large to take: the list without them,
        // each page of members then read on its own.
        return this.#loadSlidingList({ ...options, members: false });
      }
      if (slidingSyncRefused(client.upstream, error)) {
        return null;
      }
      throw error;
    }
    return list.complete ? list : null;
  }

  /** The viewer's `m.direct` map: from the room list when it was fetched, else account data. */
  directRooms(): Promise<Map<string, string[]>> {
    const list = this.#lists.get(true) ?? this.#lists.get(false);
    if (list !== undefined) {
      return list.then((fetched) => fetched.direct);
    }
    this.#directFromAccountData ??= this.#viewer
      .whoami()
      .then(({ userId }) => getAccountData(this.#viewer.client, userId, 'm.direct'))
      .then(directMapFrom);
    return this.#directFromAccountData;
  }
}

function isTooLarge(error: unknown): boolean {
  return error instanceof ConnectionError && error.failure === 'too-large';
}

export function eventKey(roomId: string, eventId: string): string {
  return `${roomId}\n${eventId}`;
}

/** Each key its own upstream call; a failure fails only its key (DataLoader takes Error items). */
function perKey<V>(load: (key: string) => Promise<V>) {
  return (keys: readonly string[]) =>
    Promise.all(keys.map((key) => load(key).catch((error: unknown) => asError(error))));
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * A snapshot `/sync`: no waiting, no presence change, never Synapse's cached answer to an earlier
 * identical sync (a snapshot must be current), and none of the parts nobody here reads
 * (presence, receipts and typing, room account data unless `room` asks for some). `room` and
 * `accountData` say what to keep.
 */
function snapshotSync(
  client: MatrixClient,
  room: NonNullable<SyncFilter['room']>,
  accountData: RoomEventFilter,
): Promise<SyncResponse> {
  return sync(client, {
    timeoutMs: 0,
    setPresence: 'offline',
    fresh: true,
    filter: {
      room: { ephemeral: { notTypes: ['*'] }, accountData: { notTypes: ['*'] }, ...room },
      presence: { notTypes: ['*'] },
      accountData,
    },
  });
}

/** More rooms than this in one batch are split: the filter travels in the query string. */
const MAX_ROOMS_PER_STATE_SYNC = 50;

/**
 * The full state of each room. One room: `GET /rooms/{id}/state`. Several rooms asked for in
 * the same tick (a room list that wants each room's members): one `/sync` filtered to exactly
 * those rooms, whose initial response holds each joined or left room's complete state. A room the
 * sync does not return (the viewer was never in it, or is only invited) falls back to `/state`,
 * so its refusal is the homeserver's own.
 */
async function loadRoomStates(
  client: MatrixClient,
  roomIds: readonly string[],
): Promise<(StateIndex | Error)[]> {
  const fromState = perKey(async (roomId) =>
    StateIndex.fromEvents(await getRoomState(client, roomId)),
  );
  if (roomIds.length === 1) {
    return fromState(roomIds);
  }
  const { room, accountData } = fullStateFilter(roomIds);
  const synced = await snapshotSync(client, room, accountData).then(fullStatesFrom, asError);
  if (synced instanceof Error) {
    return roomIds.map(() => synced);
  }
  const missing = roomIds.filter((roomId) => !synced.has(roomId));
  const fallback = new Map<string, StateIndex | Error>(
    (await fromState(missing)).map((state, index) => [missing[index] ?? '', state]),
  );
  return roomIds.map((roomId) => synced.get(roomId) ?? fallback.get(roomId) ?? new Error(roomId));
}

/**
 * The unread counts of `roomIds` from one snapshot `/sync` filtered to them: no state, no account
 * data, one timeline event each (an initial sync lists every joined room it is filtered to, with
 * its `unread_notifications`). A room it does not list is not joined: `null`.
 */
async function loadUnreadCounts(
  client: MatrixClient,
  roomIds: readonly string[],
): Promise<(UnreadNotifications | null | Error)[]> {
  const synced = await snapshotSync(
    client,
    { rooms: [...roomIds], timeline: { limit: 1 }, state: { notTypes: ['*'] } },
    { notTypes: ['*'] },
  ).catch(asError);
  if (synced instanceof Error) {
    return roomIds.map(() => synced);
  }
  return roomIds.map((roomId) => synced.join.get(roomId)?.unreadNotifications ?? null);
}
