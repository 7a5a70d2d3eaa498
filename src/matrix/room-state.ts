/**
 * Room state and membership lists. (`rooms.yaml`, `room_state.yaml`)
 */

import { type ClientEvent, type JsonObject, toClientEvent, toClientEvents } from './events.ts';
import type { CallOptions, MatrixClient } from './matrix-client.ts';
import { clientPath } from './paths.ts';
import { absentAsNull } from './policy.ts';
import type { WireClientEvent } from './wire-types.ts';

/** Every current state event of the room. */
export async function getRoomState(
  client: MatrixClient,
  roomId: string,
  options?: CallOptions,
): Promise<ClientEvent[]> {
  const events = await client.send<WireClientEvent[]>(
    { method: 'GET', path: clientPath`/rooms/${roomId}/state`, returns: 'array' },
    options,
  );
  return toClientEvents(events, roomId);
}

/**
 * One state event, whole (`?format=event`, spec v1.16); `null` when the room has no state of that
 * type and key (the homeserver answers 404 `M_NOT_FOUND`).
 */
export function getStateEvent(
  client: MatrixClient,
  roomId: string,
  type: string,
  stateKey = '',
  options?: CallOptions,
): Promise<ClientEvent | null> {
  return absentAsNull(
    client
      .send<WireClientEvent>(
        {
          method: 'GET',
          path: clientPath`/rooms/${roomId}/state/${type}/${stateKey}`,
          query: { format: 'event' },
        },
        options,
      )
      .then((event) => toClientEvent(event, roomId)),
  );
}

/**
 * Sends a state event. A state PUT is idempotent: it sets the state to this content, however
 * often it arrives.
 */
export async function putStateEvent(
  client: MatrixClient,
  roomId: string,
  type: string,
  stateKey: string,
  content: JsonObject,
  options?: CallOptions,
): Promise<{ eventId: string }> {
  const body = await client.send<{ event_id: string }>(
    {
      method: 'PUT',
      path: clientPath`/rooms/${roomId}/state/${type}/${stateKey}`,
      body: content,
    },
    options,
  );
  return { eventId: body.event_id };
}

export type MembershipState = 'join' | 'invite' | 'knock' | 'leave' | 'ban';

export interface MembersOptions extends CallOptions {
  /** Only members in this state. */
  membership?: MembershipState;
  /** Leave out members in this state. */
  notMembership?: MembershipState;
  /** The membership as of this point in the timeline (a pagination token). */
  at?: string;
}

/** The `m.room.member` events of the room, filtered by membership. */
export async function getMembers(
  client: MatrixClient,
  roomId: string,
  options: MembersOptions = {},
): Promise<ClientEvent[]> {
  const body = await client.send<{ chunk?: WireClientEvent[] }>(
    {
      method: 'GET',
      path: clientPath`/rooms/${roomId}/members`,
      query: {
        membership: options.membership,
        not_membership: options.notMembership,
        at: options.at,
      },
    },
    options,
  );
  return toClientEvents(body.chunk, roomId);
}

export interface JoinedMember {
  displayName: string | null;
  avatarUrl: string | null;
}

/** The joined members with their room-specific profile; the caller must be joined (else 403). */
export async function getJoinedMembers(
  client: MatrixClient,
  roomId: string,
  options?: CallOptions,
): Promise<Map<string, JoinedMember>> {
  const body = await client.send<{
    joined?: Record<string, { display_name?: string | null; avatar_url?: string | null }>;
  }>({ method: 'GET', path: clientPath`/rooms/${roomId}/joined_members` }, options);
  return new Map(
    Object.entries(body.joined ?? {}).map(([userId, member]) => [
      userId,
      { displayName: member.display_name ?? null, avatarUrl: member.avatar_url ?? null },
    ]),
  );
}
