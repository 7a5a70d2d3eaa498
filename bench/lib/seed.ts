/**
 * Seeding the bench homeserver straight through the Client-Server API (not through the facade's
 * own client, so that the bench measures the facade and is not built from it).
 */
import { randomBytes } from 'node:crypto';
import type { Agent } from 'undici';
import { type RegisteredUser, registerUser } from '../../scripts/synapse/register.ts';
import { mapLimit, matrix } from './client.ts';

export type { RegisteredUser };

/** Registers `count` users (shared-secret registration), `parallel` at a time. */
export function registerUsers(
  homeserverUrl: string,
  sharedSecret: string,
  count: number,
  prefix: string,
  parallel = 8,
): Promise<RegisteredUser[]> {
  return mapLimit(
    Array.from({ length: count }, (_, index) => index),
    parallel,
    () => registerUser(homeserverUrl, sharedSecret, { prefix }),
  );
}

/** Creates a public room as `token`; returns its ID. */
export async function createRoom(
  agent: Agent,
  homeserverUrl: string,
  token: string,
  name: string,
  topic: string,
): Promise<string> {
  const { body } = await matrix<{ room_id: string }>(
    agent,
    homeserverUrl,
    token,
    'POST',
    '/_matrix/client/v3/createRoom',
    { name, topic, preset: 'public_chat' },
  );
  return body.room_id;
}

export async function joinRoom(
  agent: Agent,
  homeserverUrl: string,
  token: string,
  roomId: string,
): Promise<void> {
  await matrix(
    agent,
    homeserverUrl,
    token,
    'POST',
    `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`,
    {},
  );
}

/** Sends an `m.text` message; returns its event ID. */
export async function sendText(
  agent: Agent,
  homeserverUrl: string,
  token: string,
  roomId: string,
  body: string,
): Promise<string> {
  const txn = randomBytes(8).toString('hex');
  const { body: sent } = await matrix<{ event_id: string }>(
    agent,
    homeserverUrl,
    token,
    'PUT',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txn}`,
    { msgtype: 'm.text', body },
  );
  return sent.event_id;
}

/**
 * A public room created by the first of `users`, the others joined, and `messages` messages sent
 * by each user in turn (`message 0`, `message 1`, …); returns its ID.
 */
export async function seedRoom(
  agent: Agent,
  homeserverUrl: string,
  users: readonly RegisteredUser[],
  room: { name: string; topic: string; messages: number },
): Promise<string> {
  const [owner, ...others] = users;
  if (!owner) {
    throw new Error('seedRoom: no users');
  }
  const roomId = await createRoom(agent, homeserverUrl, owner.accessToken, room.name, room.topic);
  await Promise.all(others.map((user) => joinRoom(agent, homeserverUrl, user.accessToken, roomId)));
  for (let message = 0; message < room.messages; message++) {
    const sender = users[message % users.length] ?? owner;
    await sendText(agent, homeserverUrl, sender.accessToken, roomId, `message ${message}`);
  }
  return roomId;
}
