/**
 * Per-request caches and batches in front of the upstream client. They hang off the request's
 * context object, so they live exactly as long as one request (or until `clearLoaders`) and only
 * ever hold data fetched with that request's token: one user's answers never reach another.
 */
import DataLoader from 'dataloader';
import {
  getAccountData,
  getProfile,
  type Profile,
  type Whoami,
  whoami,
} from '../matrix/account.ts';
import type { ClientEvent, RoomEventFilter } from '../matrix/events.ts';
import type { MatrixClient } from '../matrix/http.ts';
import { getEvent } from '../matrix/room-events.ts';
import { getRoomState } from '../matrix/room-state.ts';
import { type SyncFilter, type SyncResponse, sync } from '../matrix/sync.ts';
import type { Context } from './builder.ts';
import { viewerClient } from './errors.ts';
import { StateIndex } from './state-index.ts';

/** A room as the viewer's room list (one /sync) shows it. */
export interface RoomListing {
  roomId: string;
  membership: 'join' | 'invite' | 'leave' | 'knock';
  /**
   * Every state type except `m.room.member`, which the list sync lazy-loads (for an invite: the
   * stripped invite state the inviter shared).
   */
  state: StateIndex;
  joinedMemberCount: number | null;
  invitedMemberCount: number | null;
  /** When the newest event the list saw was sent (0 when unknown), for ordering by activity. */
  lastActivityTs: number;
}

export interface RoomList {
  rooms: RoomListing[];
  /** The viewer's `m.direct` account data: user ID → direct-message room IDs. */
  direct: Map<string, string[]>;
}

export interface Loaders {
  readonly client: MatrixClient;
  /**
   * The whole current state of a room: `GET /rooms/{id}/state` for one room, one filtered `/sync`
   * for several asked for together.
   */
  readonly roomState: DataLoader<string, StateIndex>;
  /** Global profiles (`GET /profile/{userId}`). */
  readonly profile: DataLoader<string, Profile>;
  /** Single events, keyed by `eventKey(roomId, eventId)`. */
  readonly event: DataLoader<string, ClientEvent>;
  /** Who the token belongs to. */
  viewer(): Promise<Whoami>;
  /** The viewer's rooms in every membership, from one filtered `/sync` (left rooms on request). */
  roomList(includeLeave: boolean): Promise<RoomList>;
  /** The viewer's `m.direct` map (from the room list when it was fetched, else account data). */
  directRooms(): Promise<Map<string, string[]>>;
}

const loadersByContext = new WeakMap<Context, Loaders>();

/** This request's loaders; `UNAUTHENTICATED` (before any upstream call) without a token. */
export function loaders(context: Context): Loaders {
  let existing = loadersByContext.get(context);
  if (!existing) {
    existing = createLoaders(viewerClient(context));
    loadersByContext.set(context, existing);
  }
  return existing;
}

/**
 * Forgets everything cached for this context: a subscription's context lives for many events, and
 * each pushed event must resolve against fresh data.
 */
export function clearLoaders(context: Context): void {
  loadersByContext.delete(context);
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

function memo<T>(make: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => {
    promise ??= make();
    return promise;
  };
}

function createLoaders(client: MatrixClient): Loaders {
  const lists = new Map<boolean, Promise<RoomList>>();
  const roomList = (includeLeave: boolean): Promise<RoomList> => {
    let list = lists.get(includeLeave) ?? (includeLeave ? undefined : lists.get(true));
    if (!list) {
      list = fetchRoomList(client, includeLeave);
      lists.set(includeLeave, list);
    }
    return list;
  };
  const directFromAccountData = memo(async () =>
    toDirectMap(await getAccountData(client, (await viewer()).userId, 'm.direct')),
  );
  const viewer = memo(() => whoami(client));

  return {
    client,
    roomState: new DataLoader((roomIds) => loadRoomStates(client, roomIds), {
      maxBatchSize: MAX_ROOMS_PER_STATE_SYNC,
    }),
    profile: new DataLoader(perKey((userId) => getProfile(client, userId))),
    event: new DataLoader(
      perKey((key) => {
        const [roomId = '', eventId = ''] = key.split('\n');
        return getEvent(client, roomId, eventId);
      }),
    ),
    viewer,
    roomList,
    directRooms: () => {
      const list = lists.get(true) ?? lists.get(false);
      return list ? list.then((fetched) => fetched.direct) : directFromAccountData();
    },
  };
}

/**
 * A snapshot `/sync`: no waiting, no presence change, never Synapse's cached answer to an earlier
 * identical sync (a snapshot must be current), and none of the parts nobody here reads
 * (presence, receipts and typing, room account data). `room` and `accountData` say what to keep.
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

/**
 * The room list from one `/sync?timeout=0`: the newest event per room (to order by activity),
 * every state type but members (lazy-loaded, so the summary's member counts come along), and the
 * `m.direct` account data. No presence, receipts, typing or room account data.
 */
async function fetchRoomList(client: MatrixClient, includeLeave: boolean): Promise<RoomList> {
  const response = await snapshotSync(
    client,
    { includeLeave, timeline: { limit: 1 }, state: { lazyLoadMembers: true } },
    { types: ['m.direct'] },
  );
  const rooms: RoomListing[] = [];
  for (const [roomId, room] of response.join) {
    rooms.push({
      roomId,
      membership: 'join',
      // Timeline state events are newer than the `state` block: apply them last.
      state: StateIndex.fromEvents([...room.state, ...room.timeline.events]),
      joinedMemberCount: room.summary.joinedMemberCount,
      invitedMemberCount: room.summary.invitedMemberCount,
      lastActivityTs: newestTs([...room.timeline.events, ...room.state]),
    });
  }
  for (const [roomId, room] of response.leave) {
    rooms.push({
      roomId,
      membership: 'leave',
      state: StateIndex.fromEvents([...room.state, ...room.timeline.events]),
      joinedMemberCount: null,
      invitedMemberCount: null,
      lastActivityTs: newestTs([...room.timeline.events, ...room.state]),
    });
  }
  for (const [membership, section] of [
    ['invite', response.invite],
    ['knock', response.knock],
  ] as const) {
    for (const [roomId, room] of section) {
      const stripped = 'inviteState' in room ? room.inviteState : room.knockState;
      rooms.push({
        roomId,
        membership,
        state: StateIndex.fromStripped(stripped),
        joinedMemberCount: null,
        invitedMemberCount: null,
        lastActivityTs: 0,
      });
    }
  }
  const direct = response.accountData.find((event) => event.type === 'm.direct');
  return { rooms, direct: toDirectMap(direct?.content ?? null) };
}

/** More rooms than this in one batch are split: the filter travels in the query string. */
const MAX_ROOMS_PER_STATE_SYNC = 50;

/**
 * The full state of each room. One room: `GET /rooms/{id}/state`. Several rooms asked for in
 * the same tick (a room list that wants each room's members): one `/sync` filtered to exactly
 * those rooms, whose initial response holds each joined or left room's complete state (the
 * `state` block, then the timeline's state events on top). A room the sync does not return (the
 * viewer was never in it, or is only invited) falls back to `/state`, so its refusal is the
 * homeserver's own.
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
  const response = await snapshotSync(
    client,
    { rooms: [...roomIds], includeLeave: true, timeline: { limit: 1 } },
    { notTypes: ['*'] },
  ).catch((error: unknown) => asError(error));
  if (response instanceof Error) {
    return roomIds.map(() => response);
  }
  const synced = new Map<string, StateIndex>();
  for (const [roomId, room] of [...response.join, ...response.leave]) {
    synced.set(roomId, StateIndex.fromEvents([...room.state, ...room.timeline.events]));
  }
  const missing = roomIds.filter((roomId) => !synced.has(roomId));
  const fallback = new Map<string, StateIndex | Error>(
    (await fromState(missing)).map((state, index) => [missing[index] ?? '', state]),
  );
  return roomIds.map((roomId) => synced.get(roomId) ?? fallback.get(roomId) ?? new Error(roomId));
}

function newestTs(events: readonly ClientEvent[]): number {
  return events.reduce((newest, event) => Math.max(newest, event.originServerTs), 0);
}

function toDirectMap(content: Record<string, unknown> | null): Map<string, string[]> {
  const direct = new Map<string, string[]>();
  for (const [userId, roomIds] of Object.entries(content ?? {})) {
    if (Array.isArray(roomIds)) {
      direct.set(
        userId,
        roomIds.filter((roomId): roomId is string => typeof roomId === 'string'),
      );
    }
  }
  return direct;
}
