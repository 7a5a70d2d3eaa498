/**
 * Simplified Sliding Sync (MSC4186, unstable: `POST
 * /_matrix/client/unstable/org.matrix.simplified_msc3575/sync`), one snapshot request at a time,
 * and whether the homeserver offers it (`GET /_matrix/client/versions`). Not in the spec's OpenAPI
 * yet: the shapes here follow the MSC and what Synapse 1.160 answers (../shared/synapse-notes.md).
 */
import {
  ConnectionError,
  MatrixApiError,
  MatrixHttpError,
  malformedResponse,
  upstreamStatus,
} from './errors.ts';
import {
  type ClientEvent,
  type JsonObject,
  type StrippedStateEvent,
  toClientEvents,
  toStrippedStateEvent,
} from './events.ts';
import type { Upstream } from './http.ts';
import type { CallOptions, MatrixClient } from './matrix-client.ts';
import { isTokenRefused } from './policy.ts';
import { isJsonObject } from './response-body.ts';
import { type RoomTag, tagsIn } from './tags.ts';
import type { WireClientEvent, WireStrippedStateEvent } from './wire-types.ts';

/** The `unstable_features` flag of `/versions` that announces MSC4186. */
export const SLIDING_SYNC_FEATURE = 'org.matrix.simplified_msc3575';

// The room layer may read types of this module only: RoomTag travels with the answer that holds it.
export type { RoomTag };

const SLIDING_SYNC_PATH = '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync';
const VERSIONS_PATH = '/_matrix/client/versions';

/** One sliding window list of the request (MSC4186 `lists.<name>`), camelCase. */
export interface SlidingSyncList {
  /** Inclusive `[start, end]` index pairs into the server's sorted list. */
  ranges: [number, number][];
  /** `[eventType, stateKey]` pairs; `$ME` names the viewer, `$LAZY` lazy-loads members. */
  requiredState: [string, string][];
  /** Timeline events per room (0: none). */
  timelineLimit: number;
  filters?: {
    /** Only rooms the viewer is invited to (`true`), or every room but those (`false`). */
    isInvite?: boolean;
    isDm?: boolean;
  };
}

export interface SlidingSyncRequest {
  lists: Record<string, SlidingSyncList>;
  extensions?: {
    /**
     * The account data extension (MSC3959): the user's global account data, and the room account
     * data (tags included) of the rooms in `lists` (list names, `*` for all) and `rooms` (room
     * subscriptions by room ID, `*` for all). Absent: not asked for.
     */
    accountData?: { lists: string[]; rooms: string[] };
  };
}

/** An account data event: its type and content (no sender, no room ID). */
export interface AccountDataEvent {
  type: string;
  content: JsonObject;
}

/** A list of the response: how many rooms match it, and the IDs in the asked ranges. */
export interface SlidingSyncListResult {
  count: number;
  /** The room IDs of every range, in the order the server gave them. */
  roomIds: string[];
}

/** One room of the response (MSC4186 `rooms.<roomId>`), camelCase; absent fields as `null`. */
export interface SlidingSyncRoom {
  /**
   * The position (a stream ordering) of the room's newest "bump" event (a message, an encrypted
   * event, a sticker, a call invite, a poll, a location share, the room's creation); for a room the
   * viewer is not joined to, of their membership event. Larger is more recent.
   */
  bumpStamp: number | null;
  /** The name the server computed (from `m.room.name`, else from the heroes). */
  name: string | null;
  isDm: boolean;
  joinedCount: number | null;
  invitedCount: number | null;
  notificationCount: number | null;
  highlightCount: number | null;
  /** The `required_state` asked for, current state (joined and left rooms). */
  requiredState: ClientEvent[];
  /** The room's newest events (at most the list's `timeline_limit`), oldest first. */
  timeline: ClientEvent[];
  /**
   * Whether the room has older events than `timeline` holds (the wire's `limited`; assumed when
   * absent): `false` means the timeline is all the history the viewer may see.
   */
  limited: boolean;
  /**
   * For an invite or a knock: the state the room shared (the wire's `invite_state`, which carries
   * both); `null` for any other room.
   */
  strippedState: StrippedStateEvent[] | null;
}

export interface SlidingSyncResponse {
  pos: string;
  lists: Map<string, SlidingSyncListResult>;
  rooms: Map<string, SlidingSyncRoom>;
  /**
   * The user's tags on each room of the account data extension's room account data
   * (`extensions.account_data.rooms`: per room, a list of `{type, content}` events, the tags as
   * one `m.tag` event). On a request without `pos`, Synapse 1.160 lists every room the extension
   * covers, with `[]` for a room without account data, so a room it lists without `m.tag` has no
   * tags. `null` when the answer has no such extension (not asked for, or not offered).
   */
  roomTags: Map<string, RoomTag[]> | null;
}

/**
 * A snapshot sliding sync: no `pos` (so an initial answer, holding everything asked for), no
 * `conn_id` (no connection state kept on the server for it), `timeout=0`. Reading only, so a retry
 * after a broken connection is safe.
 */
export async function slidingSync(
  client: MatrixClient,
  request: SlidingSyncRequest,
  options: CallOptions = {},
): Promise<SlidingSyncResponse> {
  const body = await client.send<unknown>(
    {
      method: 'POST',
      path: SLIDING_SYNC_PATH,
      query: { timeout: 0 },
      body: toWireRequest(request),
      idempotent: true,
    },
    options,
  );
  return toSlidingSyncResponse(body);
}

function toWireRequest(request: SlidingSyncRequest): JsonObject {
  const lists: JsonObject = {};
  for (const [name, list] of Object.entries(request.lists)) {
    const filters: JsonObject = {};
    if (list.filters?.isInvite !== undefined) {
      filters['is_invite'] = list.filters.isInvite;
    }
    if (list.filters?.isDm !== undefined) {
      filters['is_dm'] = list.filters.isDm;
    }
    lists[name] = {
      ranges: list.ranges,
      required_state: list.requiredState,
      timeline_limit: list.timelineLimit,
      ...(Object.keys(filters).length > 0 ? { filters } : {}),
    };
  }
  const accountData = request.extensions?.accountData;
  if (accountData === undefined) {
    return { lists };
  }
  return {
    lists,
    extensions: {
      account_data: { enabled: true, lists: accountData.lists, rooms: accountData.rooms },
    },
  };
}

/**
 * Reads a sliding sync answer, checking every part this module hands on: an answer of another
 * shape (a proxy's `{}`, a server speaking another revision of the MSC) fails as malformed, like
 * any other upstream failure, rather than reading as an empty room list.
 */
export function toSlidingSyncResponse(wire: unknown): SlidingSyncResponse {
  const malformed = (problem: string) =>
    malformedResponse({ method: 'POST', path: SLIDING_SYNC_PATH }, problem);
  if (!isJsonObject(wire) || typeof wire['pos'] !== 'string') {
    throw malformed('pos is not a string');
  }
  const lists = new Map<string, SlidingSyncListResult>();
  for (const [name, list] of Object.entries(objectOr(wire['lists'], 'lists', malformed))) {
    if (!isJsonObject(list) || !isCount(list['count'])) {
      throw malformed(`lists.${name}.count is not a count`);
    }
    const roomIds: string[] = [];
    for (const operation of arrayOr(list['ops'], `lists.${name}.ops`, malformed)) {
      const ids = isJsonObject(operation) ? operation['room_ids'] : undefined;
      if (ids !== undefined && !isStringArray(ids)) {
        throw malformed(`lists.${name}.ops[].room_ids is not a list of room IDs`);
      }
      roomIds.push(...(ids ?? []));
    }
    lists.set(name, { count: list['count'], roomIds });
  }
  const rooms = new Map<string, SlidingSyncRoom>();
  for (const [roomId, room] of Object.entries(objectOr(wire['rooms'], 'rooms', malformed))) {
    if (!isJsonObject(room)) {
      throw malformed(`rooms.${roomId} is not an object`);
    }
    rooms.set(
      roomId,
      toRoom(roomId, room, (problem) => malformed(`rooms.${roomId}.${problem}`)),
    );
  }
  return { pos: wire['pos'], lists, rooms, roomTags: roomTags(wire, malformed) };
}

/** The tags in `extensions.account_data.rooms` (see {@link SlidingSyncResponse.roomTags}). */
function roomTags(
  wire: Record<string, unknown>,
  malformed: (problem: string) => Error,
): Map<string, RoomTag[]> | null {
  const extension = objectOr(wire['extensions'], 'extensions', malformed)['account_data'];
  if (extension === undefined) {
    return null;
  }
  const key = 'extensions.account_data';
  const byRoom = new Map<string, RoomTag[]>();
  const rooms = objectOr(objectOr(extension, key, malformed)['rooms'], `${key}.rooms`, malformed);
  for (const [roomId, events] of Object.entries(rooms)) {
    const list = arrayOr(events, `${key}.rooms.${roomId}`, malformed);
    if (!list.every((event) => isJsonObject(event) && isAccountDataEvent(event))) {
      throw malformed(`${key}.rooms.${roomId}[] is not an account data event`);
    }
    byRoom.set(roomId, tagsIn(list as AccountDataEvent[]));
  }
  return byRoom;
}

function isAccountDataEvent(event: Record<string, unknown>): boolean {
  return typeof event['type'] === 'string' && isJsonObject(event['content']);
}

function toRoom(
  roomId: string,
  room: Record<string, unknown>,
  malformed: (problem: string) => Error,
): SlidingSyncRoom {
  const number = (key: string): number | null => {
    const value = room[key];
    if (value === undefined) {
      return null;
    }
    if (!isCount(value)) {
      throw malformed(`${key} is not a count`);
    }
    return value;
  };
  const name = room['name'];
  if (name !== undefined && typeof name !== 'string') {
    throw malformed('name is not a string');
  }
  const stripped = room['invite_state'] ?? room['stripped_state'];
  return {
    bumpStamp: number('bump_stamp'),
    name: name ?? null,
    isDm: room['is_dm'] === true,
    joinedCount: number('joined_count'),
    invitedCount: number('invited_count'),
    notificationCount: number('notification_count'),
    highlightCount: number('highlight_count'),
    requiredState: toClientEvents(
      events(room['required_state'], 'required_state', malformed),
      roomId,
    ),
    timeline: toClientEvents(events(room['timeline'], 'timeline', malformed), roomId),
    limited: room['limited'] !== false,
    strippedState:
      stripped === undefined
        ? null
        : events<WireStrippedStateEvent>(stripped, 'invite_state', malformed).map(
            toStrippedStateEvent,
          ),
  };
}

/**
 * A list of events, each with the fields every reader relies on (`type`, `sender`, an object
 * `content`; a string `state_key` when present).
 */
function events<T extends WireClientEvent | WireStrippedStateEvent = WireClientEvent>(
  value: unknown,
  key: string,
  malformed: (problem: string) => Error,
): T[] {
  const list = arrayOr(value, key, malformed);
  for (const event of list) {
    if (
      !isJsonObject(event) ||
      typeof event['type'] !== 'string' ||
      typeof event['sender'] !== 'string' ||
      !isJsonObject(event['content']) ||
      (event['state_key'] !== undefined && typeof event['state_key'] !== 'string')
    ) {
      throw malformed(`${key}[] is not an event`);
    }
  }
  return list as T[];
}

function objectOr(
  value: unknown,
  key: string,
  malformed: (problem: string) => Error,
): Record<string, unknown> {
  if (value === undefined) {
    return {};
  }
  if (!isJsonObject(value)) {
    throw malformed(`${key} is not an object`);
  }
  return value;
}

function arrayOr(
  value: unknown,
  key: string,
  malformed: (problem: string) => Error,
): readonly unknown[] {
  if (value === undefined) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw malformed(`${key} is not a list`);
  }
  return value;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/**
 * Which upstream call serves the room list: `sliding-sync` (MSC4186), `sync` (one filtered
 * `/sync`), or `auto`: sliding sync when the homeserver announces it in `/versions`.
 */
export type RoomListPlan = 'auto' | 'sliding-sync' | 'sync';

/**
 * How long a failed `/versions` probe counts as "not offered" before the next request probes
 * again: long enough that a homeserver in trouble is not asked on every request, short enough that
 * the faster plan comes back soon after it recovers.
 */
export const PROBE_RETRY_MS = 30_000;

interface SlidingSyncSupport {
  plan: RoomListPlan;
  /** The probe's answer (once it came), or its pending promise. */
  offered: boolean | Promise<boolean> | null;
  /** When a failed probe may be repeated (`performance.now()` time); 0 for never failed. */
  retryAt: number;
}

/**
 * Per upstream (one per homeserver and process): the configured plan and the probe's answer.
 * A WeakMap rather than a field of `Upstream`, so the upstream client knows nothing of room lists;
 * it goes with the upstream.
 */
const support = new WeakMap<Upstream, SlidingSyncSupport>();

function supportOf(upstream: Upstream): SlidingSyncSupport {
  let state = support.get(upstream);
  if (state === undefined) {
    state = { plan: 'auto', offered: null, retryAt: 0 };
    support.set(upstream, state);
  }
  return state;
}

/**
 * Sets the room list plan of every request through `upstream` (the server does it once, from
 * `ROOM_LIST_PLAN`).
 * @default 'auto'
 */
export function setRoomListPlan(upstream: Upstream, plan: RoomListPlan): void {
  supportOf(upstream).plan = plan;
}

/**
 * Whether the room list may use sliding sync for `client`'s upstream: the plan says so, or it is
 * `auto` and the homeserver's `/versions` announces {@link SLIDING_SYNC_FEATURE}. `/versions` is
 * asked once per upstream, by whichever client asks first (the others wait for that answer), and
 * through that client: with its token, so that a request whose token turns out to be refused
 * still costs one upstream call in all (the client's first-answer rule), and within its budget.
 * A homeserver that failed to answer counts as "not offered" (the `/sync` plan serves) and is
 * asked again after {@link PROBE_RETRY_MS}; a probe that ended because of its caller (a refused
 * token, an abort, a spent budget) says nothing of the homeserver, and the next caller asks again.
 */
export async function slidingSyncOffered(client: MatrixClient): Promise<boolean> {
  const state = supportOf(client.upstream);
  if (state.plan !== 'auto') {
    return state.plan === 'sliding-sync';
  }
  if (state.offered === null || (state.offered === false && state.retryAt !== 0)) {
    if (state.retryAt > performance.now()) {
      return false;
    }
    const probe = client
      .send<unknown>({
        method: 'GET',
        path: VERSIONS_PATH,
        anonymous: !client.authenticated,
      })
      .then(
        (versions) => {
          const features = isJsonObject(versions) ? versions['unstable_features'] : undefined;
          state.offered = isJsonObject(features) && features[SLIDING_SYNC_FEATURE] === true;
          state.retryAt = 0;
          return state.offered;
        },
        (error: unknown) => {
          if (isHomeserverFailure(error)) {
            state.offered = false;
            state.retryAt = performance.now() + PROBE_RETRY_MS;
          } else if (state.offered === probe) {
            state.offered = null;
          }
          return false;
        },
      );
    state.offered = probe;
  }
  return state.offered;
}

/** A failure of the homeserver itself, not of the caller's token, signal or budget. */
function isHomeserverFailure(error: unknown): boolean {
  return (
    (error instanceof MatrixApiError && !isTokenRefused(error)) ||
    error instanceof MatrixHttpError ||
    error instanceof ConnectionError
  );
}

/**
 * Whether `error` means the homeserver no longer offers sliding sync (404 or 405, e.g. after a
 * downgrade or a configuration change) under the `auto` plan: then it is forgotten, the caller
 * serves this request with `/sync`, and `/versions` is asked again after {@link PROBE_RETRY_MS}.
 */
export function slidingSyncRefused(upstream: Upstream, error: unknown): boolean {
  const status = upstreamStatus(error);
  if (status !== 404 && status !== 405) {
    return false;
  }
  const state = supportOf(upstream);
  if (state.plan !== 'auto') {
    // Configured explicitly: the refusal is the answer the operator asked for.
    return false;
  }
  state.offered = false;
  state.retryAt = performance.now() + PROBE_RETRY_MS;
  return true;
}
