/**
 * Room aliases and the public room directory. (`directory.yaml`, `list_public_rooms.yaml`)
 */
import { dropUndefined } from './events.ts';
import type { CallOptions, MatrixClient } from './matrix-client.ts';
import { clientPath } from './paths.ts';
import type { WirePublicRoomsChunk, WirePublicRoomsResponse } from './wire-types.ts';

export interface ResolvedAlias {
  roomId: string;
  /** Servers that know the room, to join through. */
  servers: string[];
}

/** Resolves `#alias:server`; 404 `M_NOT_FOUND` for an unknown alias. */
export async function resolveAlias(
  client: MatrixClient,
  alias: string,
  options?: CallOptions,
): Promise<ResolvedAlias> {
  const body = await client.send<{ room_id: string; servers?: string[] }>(
    { method: 'GET', path: clientPath`/directory/room/${alias}` },
    options,
  );
  return { roomId: body.room_id, servers: body.servers ?? [] };
}

/**
 * Points a new alias at the room (`PUT /directory/room/{roomAlias}`). 409 when the alias is taken
 * (Synapse: `M_ROOM_IN_USE`); the alias must be on the caller's homeserver.
 */
export async function createAlias(
  client: MatrixClient,
  alias: string,
  roomId: string,
  options?: CallOptions,
): Promise<void> {
  await client.send(
    { method: 'PUT', path: clientPath`/directory/room/${alias}`, body: { room_id: roomId } },
    options,
  );
}

/**
 * The aliases on the caller's homeserver that point at the room (`GET /rooms/{roomId}/aliases`);
 * the caller must be able to see the room.
 */
export async function getLocalAliases(
  client: MatrixClient,
  roomId: string,
  options?: CallOptions,
): Promise<string[]> {
  const body = await client.send<{ aliases?: string[] }>(
    { method: 'GET', path: clientPath`/rooms/${roomId}/aliases` },
    options,
  );
  return body.aliases ?? [];
}

/**
 * Removes an alias (`DELETE /directory/room/{roomAlias}`); 404 `M_NOT_FOUND` when it is unknown.
 * Who may is the server's choice: Synapse allows the alias's creator, server admins and users
 * whose power level lets them send `m.room.canonical_alias`, and updates that event itself.
 */
export async function deleteAlias(
  client: MatrixClient,
  alias: string,
  options?: CallOptions,
): Promise<void> {
  await client.send({ method: 'DELETE', path: clientPath`/directory/room/${alias}` }, options);
}

/**
 * Lists the room in the public directory or takes it out (`PUT /directory/list/room/{roomId}`).
 * Synapse requires the `m.room.canonical_alias` power level ("a moderator in the room").
 */
export async function setDirectoryVisibility(
  client: MatrixClient,
  roomId: string,
  visibility: 'public' | 'private',
  options?: CallOptions,
): Promise<void> {
  await client.send(
    { method: 'PUT', path: clientPath`/directory/list/room/${roomId}`, body: { visibility } },
    options,
  );
}

export interface PublicRoomsOptions extends CallOptions {
  limit?: number;
  /** The `nextBatch` or `prevBatch` token of an earlier page. */
  since?: string;
  /** Another server's directory (needs federation). */
  server?: string;
  /** Only rooms whose name, topic or alias contain this term. */
  searchTerm?: string;
}

export interface PublicRoom {
  roomId: string;
  name: string | null;
  topic: string | null;
  canonicalAlias: string | null;
  avatarUrl: string | null;
  joinRule: string | null;
  roomType: string | null;
  numJoinedMembers: number;
  worldReadable: boolean;
  guestCanJoin: boolean;
}

export interface PublicRoomsPage {
  rooms: PublicRoom[];
  nextBatch: string | null;
  prevBatch: string | null;
  totalRoomCountEstimate: number | null;
}

/**
 * A page of the public room directory: `GET /publicRooms`, or the `POST` form when a search term is
 * given (only the POST form filters).
 */
export async function getPublicRooms(
  client: MatrixClient,
  options: PublicRoomsOptions = {},
): Promise<PublicRoomsPage> {
  const body =
    options.searchTerm === undefined
      ? await client.send<WirePublicRoomsResponse>(
          {
            method: 'GET',
            path: clientPath`/publicRooms`,
            query: { limit: options.limit, since: options.since, server: options.server },
          },
          options,
        )
      : await client.send<WirePublicRoomsResponse>(
          {
            method: 'POST',
            path: clientPath`/publicRooms`,
            query: { server: options.server },
            body: dropUndefined({
              limit: options.limit,
              since: options.since,
              filter: { generic_search_term: options.searchTerm },
            }),
          },
          options,
        );
  return {
    rooms: body.chunk.map(toPublicRoom),
    nextBatch: body.next_batch ?? null,
    prevBatch: body.prev_batch ?? null,
    totalRoomCountEstimate: body.total_room_count_estimate ?? null,
  };
}

function toPublicRoom(wire: WirePublicRoomsChunk): PublicRoom {
  return {
    roomId: wire.room_id,
    name: wire.name ?? null,
    topic: wire.topic ?? null,
    canonicalAlias: wire.canonical_alias ?? null,
    avatarUrl: wire.avatar_url ?? null,
    joinRule: wire.join_rule ?? null,
    roomType: wire.room_type ?? null,
    numJoinedMembers: wire.num_joined_members,
    worldReadable: wire.world_readable,
    guestCanJoin: wire.guest_can_join,
  };
}
