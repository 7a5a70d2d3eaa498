/**
 * Creating rooms and moving members in and out of them.
 * (`create_room.yaml`, `list_joined_rooms.yaml`, `joining.yaml`, `inviting.yaml`, `kicking.yaml`,
 * `banning.yaml`, `leaving.yaml`)
 */
import { dropUndefined, type JsonObject } from './events.ts';
import type { CallOptions, MatrixClient } from './matrix-client.ts';
import { clientPath } from './paths.ts';
import type { WireCreateRoomRequest } from './wire-types.ts';

/** Every option of `create_room.yaml`, camelCase. */
export interface CreateRoomOptions {
  visibility?: 'public' | 'private';
  /** The local part only: `foo` becomes `#foo:<server>`. */
  roomAliasName?: string;
  name?: string;
  topic?: string;
  invite?: string[];
  invite3pid?: { idServer: string; idAccessToken: string; medium: string; address: string }[];
  roomVersion?: string;
  creationContent?: JsonObject;
  initialState?: { type: string; stateKey?: string; content: JsonObject }[];
  preset?: 'private_chat' | 'public_chat' | 'trusted_private_chat';
  isDirect?: boolean;
  powerLevelContentOverride?: JsonObject;
}

/**
 * Creates a room. Not retried after a 5xx or a broken connection: a second POST could create a
 * second room.
 */
export async function createRoom(
  client: MatrixClient,
  room: CreateRoomOptions,
  options?: CallOptions,
): Promise<{ roomId: string }> {
  const request = dropUndefined<WireCreateRoomRequest>({
    visibility: room.visibility,
    room_alias_name: room.roomAliasName,
    name: room.name,
    topic: room.topic,
    invite: room.invite,
    invite_3pid: room.invite3pid?.map((invite) => ({
      id_server: invite.idServer,
      id_access_token: invite.idAccessToken,
      medium: invite.medium,
      address: invite.address,
    })),
    room_version: room.roomVersion,
    creation_content: room.creationContent,
    initial_state: room.initialState?.map((event) => ({
      type: event.type,
      state_key: event.stateKey ?? '',
      content: event.content,
    })),
    preset: room.preset,
    is_direct: room.isDirect,
    power_level_content_override: room.powerLevelContentOverride,
  });
  const body = await client.send<{ room_id: string }>(
    { method: 'POST', path: clientPath`/createRoom`, body: request },
    options,
  );
  return { roomId: body.room_id };
}

/** The IDs of the rooms the caller has joined. */
export async function getJoinedRooms(
  client: MatrixClient,
  options?: CallOptions,
): Promise<string[]> {
  const body = await client.send<{ joined_rooms: string[] }>(
    { method: 'GET', path: clientPath`/joined_rooms` },
    options,
  );
  return body.joined_rooms;
}

export interface JoinOptions extends CallOptions {
  reason?: string;
  /**
   * Server names to join through, for a room the homeserver is not in yet; one of them must be
   * in the room.
   */
  via?: string[];
}

/**
 * Joins by room ID (`!…`) or alias (`#…`). Joining is idempotent (joining a room one is in
 * answers 200), so it may be retried.
 */
export async function joinRoom(
  client: MatrixClient,
  roomIdOrAlias: string,
  options: JoinOptions = {},
): Promise<{ roomId: string }> {
  const body = await client.send<{ room_id: string }>(
    {
      method: 'POST',
      path: clientPath`/join/${roomIdOrAlias}`,
      // `via` is the parameter's name since spec v1.12 (joining.yaml); before, it was
      // `server_name`. Both are sent, as matrix-js-sdk does, so homeservers of either age
      // honour the list (Synapse reads `via` and falls back to `server_name`).
      query: { via: options.via, server_name: options.via },
      body: dropUndefined({ reason: options.reason }),
      idempotent: true,
    },
    options,
  );
  return { roomId: body.room_id };
}

export interface ReasonOptions extends CallOptions {
  reason?: string;
}

/** Invites, kicks, bans and unbans are all `POST /rooms/{roomId}/<action>` with user and reason. */
async function membershipAction(
  client: MatrixClient,
  action: 'invite' | 'kick' | 'ban' | 'unban',
  roomId: string,
  userId: string,
  options: ReasonOptions,
): Promise<void> {
  await client.send(
    {
      method: 'POST',
      path: `${clientPath`/rooms/${roomId}`}/${action}`,
      body: dropUndefined({ user_id: userId, reason: options.reason }),
      // Each moves the target to one membership state; sending it twice changes nothing more.
      idempotent: true,
    },
    options,
  );
}

export function inviteUser(
  client: MatrixClient,
  roomId: string,
  userId: string,
  options: ReasonOptions = {},
): Promise<void> {
  return membershipAction(client, 'invite', roomId, userId, options);
}

export function kickUser(
  client: MatrixClient,
  roomId: string,
  userId: string,
  options: ReasonOptions = {},
): Promise<void> {
  return membershipAction(client, 'kick', roomId, userId, options);
}

export function banUser(
  client: MatrixClient,
  roomId: string,
  userId: string,
  options: ReasonOptions = {},
): Promise<void> {
  return membershipAction(client, 'ban', roomId, userId, options);
}

export function unbanUser(
  client: MatrixClient,
  roomId: string,
  userId: string,
  options: ReasonOptions = {},
): Promise<void> {
  return membershipAction(client, 'unban', roomId, userId, options);
}

export async function leaveRoom(
  client: MatrixClient,
  roomId: string,
  options: ReasonOptions = {},
): Promise<void> {
  await client.send(
    {
      method: 'POST',
      path: clientPath`/rooms/${roomId}/leave`,
      body: dropUndefined({ reason: options.reason }),
      idempotent: true,
    },
    options,
  );
}

/** Forgets a room the caller has left; its history is then no longer visible to them. */
export async function forgetRoom(
  client: MatrixClient,
  roomId: string,
  options?: CallOptions,
): Promise<void> {
  await client.send(
    { method: 'POST', path: clientPath`/rooms/${roomId}/forget`, body: {}, idempotent: true },
    options,
  );
}
