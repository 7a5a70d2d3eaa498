/**
 * What tests and benches of slow `roomEvents` readers share: the messages such a raw client
 * reads, and the room's newest event IDs to compare them with.
 */
import type { MatrixClient } from '../../src/matrix/matrix-client.ts';
import { getMessages } from '../../src/matrix/room-events.ts';

/** A graphql-transport-ws message of a `roomEvents { event { id } gap { room { id } } }` feed. */
export interface RoomEventsMessage {
  type: string;
  id?: string;
  payload?: {
    data?: { roomEvents?: { event: { id: string } | null; gap: { room: { id: string } } | null } };
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
}

/** The IDs of the room's `count` newest events, as its timeline orders them (oldest first). */
export async function newestEventIds(
  client: MatrixClient,
  roomId: string,
  count: number,
): Promise<string[]> {
  const newestFirst: string[] = [];
  let from: string | undefined;
  while (newestFirst.length < count) {
    const page = await getMessages(client, roomId, {
      dir: 'b',
      limit: Math.min(count - newestFirst.length, 1000),
      ...(from === undefined ? {} : { from }),
    });
    newestFirst.push(...page.chunk.map((event) => event.eventId));
    if (page.end === null) {
      break;
    }
    from = page.end;
  }
  return newestFirst.reverse();
}
