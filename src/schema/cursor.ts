/**
 * Opaque, signed pagination cursors. A cursor is `<payload>.<mac>`: the base64url of a small JSON
 * payload, and the base64url of an HMAC-SHA256 (keyed by the server's cursor key) over the payload
 * *and the list it belongs to* (its scope). The scope is not in the cursor itself, so a cursor from
 * another room or another filter fails the check exactly like a forged or damaged one, and is
 * refused as BAD_USER_INPUT before anything reaches the homeserver.
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { badCursor } from './connection-args.ts';
import { isEventId } from './matrix-ids.ts';

/**
 * Longer input cannot be a cursor we issued (an event ID is at most 255 bytes); refusing it early
 * keeps a client from making the server hash megabytes.
 */
const MAX_CURSOR_LENGTH = 1024;

/** base64url of a 32-byte HMAC-SHA256 digest, without padding. */
const MAC_LENGTH = 43;

/** What a room timeline cursor is bound to: a cursor is only valid for the same room and filter. */
export interface TimelineScope {
  roomId: string;
  /** The `types` filter of the list; `null` when it has none (not the same as `[]`). */
  types: readonly string[] | null;
}

/**
 * Signs `payload` for `scope`. `scope` names the list (e.g. `['messages', roomId, types]`); it is
 * covered by the MAC but not written into the cursor.
 */
export function sealCursor(key: Uint8Array, scope: unknown, payload: unknown): string {
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${body}.${mac(key, scope, body)}`;
}

/**
 * The payload of a cursor sealed for `scope` with `key`, or `undefined` when `cursor` is not one
 * (garbage, tampered, or sealed for another scope or with another key).
 */
export function openCursor(key: Uint8Array, scope: unknown, cursor: string): unknown {
  if (cursor.length > MAX_CURSOR_LENGTH) {
    return undefined;
  }
  const dot = cursor.indexOf('.');
  if (dot < 1) {
    return undefined;
  }
  const body = cursor.slice(0, dot);
  const given = Buffer.from(cursor.slice(dot + 1), 'utf8');
  const expected = Buffer.from(mac(key, scope, body), 'utf8');
  // Equal lengths first (timingSafeEqual demands them); the MAC's length is no secret.
  if (given.length !== MAC_LENGTH || !timingSafeEqual(given, expected)) {
    return undefined;
  }
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The server's key as a KeyObject, made once: an HMAC keyed by raw bytes prepares the key anew
 * each time, about five times the cost of the MAC itself, and a page seals a cursor per edge.
 */
const keyObjects = new WeakMap<Uint8Array, KeyObject>();

function mac(key: Uint8Array, scope: unknown, body: string): string {
  let keyObject = keyObjects.get(key);
  if (keyObject === undefined) {
    keyObject = createSecretKey(key);
    keyObjects.set(key, keyObject);
  }
  // The scope's JSON goes first, then a NUL (never in JSON text) as the separator, so no choice of
  // scope and body can collide with another.
  return createHmac('sha256', keyObject)
    .update(JSON.stringify(scope))
    .update('\u0000')
    .update(body)
    .digest('base64url');
}

/** The filter as a set: the same types in another order or repeated are the same list. */
function timelineScope(scope: TimelineScope): unknown[] {
  const types = scope.types === null ? null : [...new Set(scope.types)].sort();
  return ['room-messages', scope.roomId, types];
}

/** The cursor of one event in a room's message list (`Room.messages`). */
export function encodeTimelineCursor(
  key: Uint8Array,
  scope: TimelineScope,
  eventId: string,
): string {
  return sealCursor(key, timelineScope(scope), { e: eventId });
}

/**
 * The event ID a `Room.messages` cursor names; BAD_USER_INPUT naming `field` when the cursor was
 * not issued by this server for this room and filter.
 */
export function decodeTimelineCursor(
  key: Uint8Array,
  scope: TimelineScope,
  cursor: string,
  field: 'after' | 'before',
): string {
  const payload = openCursor(key, timelineScope(scope), cursor);
  const eventId =
    typeof payload === 'object' && payload !== null && 'e' in payload ? payload.e : undefined;
  if (typeof eventId !== 'string' || !isEventId(eventId)) {
    throw badCursor(field);
  }
  return eventId;
}

/** A page as the connection types read it. */
export interface SealedConnection<T> {
  edges: { readonly node: T; readonly cursor: string }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    readonly startCursor: string | null;
    readonly endCursor: string | null;
  };
}

/**
 * One edge: its cursor sealed only when something reads it, then once. A class rather than an
 * object literal with a getter: a page of a hundred edges then allocates a hundred small objects
 * of one shape, not a hundred closures and accessor objects.
 */
class SealedEdge<I, T> {
  readonly node: T;
  readonly #item: I;
  readonly #seal: (item: I) => string;
  #cursor: string | undefined;

  constructor(item: I, node: T, seal: (item: I) => string) {
    this.node = node;
    this.#item = item;
    this.#seal = seal;
  }

  get cursor(): string {
    this.#cursor ??= this.#seal(this.#item);
    return this.#cursor;
  }
}

/** Where a page stands; its cursors are its first and last edges' (sealed when read). */
class SealedPageInfo {
  readonly hasNextPage: boolean;
  readonly hasPreviousPage: boolean;
  readonly #edges: readonly { readonly cursor: string }[];

  constructor(
    edges: readonly { readonly cursor: string }[],
    pages: { hasNextPage: boolean; hasPreviousPage: boolean },
  ) {
    this.hasNextPage = pages.hasNextPage;
    this.hasPreviousPage = pages.hasPreviousPage;
    this.#edges = edges;
  }

  get startCursor(): string | null {
    return this.#edges[0]?.cursor ?? null;
  }

  get endCursor(): string | null {
    return this.#edges.at(-1)?.cursor ?? null;
  }
}

/**
 * A page of `items`, each edge's node made by `edge.node` and its cursor by `edge.cursor`, but
 * only when something reads it (then once): most queries select the nodes alone, and a cursor
 * costs an HMAC, so a 50-room list with each room's messages would otherwise seal a hundred
 * cursors nobody asked for.
 */
export function sealedConnection<I, T>(
  items: readonly I[],
  edge: { node: (item: I) => T; cursor: (item: I) => string },
  pages: { hasNextPage: boolean; hasPreviousPage: boolean },
): SealedConnection<T> {
  const edges = items.map((item) => new SealedEdge(item, edge.node(item), edge.cursor));
  return { edges, pageInfo: new SealedPageInfo(edges, pages) };
}
