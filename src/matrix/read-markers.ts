/**
 * The viewer's place in a room: the fully-read marker and the read receipt
 * (`read_markers.yaml`), and the marker as room account data (`account-data.yaml`).
 */
import { getRoomAccountData } from './account.ts';
import type { CallOptions, MatrixClient } from './matrix-client.ts';
import { clientPath } from './paths.ts';

/**
 * `POST /rooms/{roomId}/read_markers`: moves the fully-read marker (`m.fully_read`) and the
 * public read receipt (`m.read`) to `eventId` in one call. Setting them twice to the same event
 * is the same as once, so a retry is safe.
 */
export async function setReadMarkers(
  client: MatrixClient,
  roomId: string,
  eventId: string,
  options?: CallOptions,
): Promise<void> {
  await client.send(
    {
      method: 'POST',
      path: clientPath`/rooms/${roomId}/read_markers`,
      body: { 'm.fully_read': eventId, 'm.read': eventId },
      idempotent: true,
    },
    options,
  );
}

/**
 * The event the user's fully-read marker points to in `roomId` (`m.fully_read` room account
 * data, `{"event_id": …}`); `null` when the user never set one.
 */
export async function getFullyRead(
  client: MatrixClient,
  userId: string,
  roomId: string,
  options?: CallOptions,
): Promise<string | null> {
  const content = await getRoomAccountData(client, userId, roomId, 'm.fully_read', options);
  const eventId = content?.['event_id'];
  return typeof eventId === 'string' ? eventId : null;
}
