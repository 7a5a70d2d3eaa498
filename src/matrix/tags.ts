/** Room tags, the user's own labels on a room (`tags.yaml`, `definitions/tag.yaml`). */
import type { JsonObject } from './events.ts';
import type { CallOptions, MatrixClient } from './matrix-client.ts';
import { clientPath } from './paths.ts';
import type { SyncResponse } from './sync.ts';

/** One tag on a room: its name and, when set, where the room sorts among rooms of that tag. */
export interface RoomTag {
  name: string;
  /** A number in [0, 1]; `null` when the tag has none (or something that is not a number). */
  order: number | null;
}

/** The tags of an `m.tag` content (`{"tags": {name: {order}}}`), sorted by name. */
export function tagsFrom(content: JsonObject | null | undefined): RoomTag[] {
  const tags = content?.['tags'];
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) {
    return [];
  }
  return Object.entries(tags as Record<string, unknown>)
    .map(([name, value]) => {
      const order =
        typeof value === 'object' && value !== null
          ? (value as Record<string, unknown>)['order']
          : undefined;
      return { name, order: typeof order === 'number' && Number.isFinite(order) ? order : null };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The tags of a room's account data events: those of its `m.tag`, none without one. */
export function tagsIn(accountData: readonly { type: string; content: JsonObject }[]): RoomTag[] {
  return tagsFrom(accountData.findLast((event) => event.type === 'm.tag')?.content);
}

/**
 * Each joined room's tags in a `/sync` response whose filter let the room account data `m.tag`
 * through (other rooms carry no account data here).
 */
export function joinedRoomTags(response: SyncResponse): Map<string, RoomTag[]> {
  return new Map([...response.join].map(([roomId, room]) => [roomId, tagsIn(room.accountData)]));
}

/** `GET /user/{userId}/rooms/{roomId}/tags`. */
export async function getRoomTags(
  client: MatrixClient,
  userId: string,
  roomId: string,
  options?: CallOptions,
): Promise<RoomTag[]> {
  const body = await client.send<JsonObject>(
    { method: 'GET', path: clientPath`/user/${userId}/rooms/${roomId}/tags` },
    options,
  );
  return tagsFrom(body);
}

/** `PUT /user/{userId}/rooms/{roomId}/tags/{tag}`, with `order` when given. Idempotent. */
export async function putRoomTag(
  client: MatrixClient,
  userId: string,
  roomId: string,
  tag: string,
  order: number | null,
  options?: CallOptions,
): Promise<void> {
  await client.send(
    {
      method: 'PUT',
      path: clientPath`/user/${userId}/rooms/${roomId}/tags/${tag}`,
      body: order === null ? {} : { order },
    },
    options,
  );
}

/** `DELETE /user/{userId}/rooms/{roomId}/tags/{tag}`. Removing an absent tag answers 200. */
export async function deleteRoomTag(
  client: MatrixClient,
  userId: string,
  roomId: string,
  tag: string,
  options?: CallOptions,
): Promise<void> {
  await client.send(
    { method: 'DELETE', path: clientPath`/user/${userId}/rooms/${roomId}/tags/${tag}` },
    options,
  );
}
