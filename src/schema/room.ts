/** Rooms: the `Room` node, `room(id:)` and `rooms`, and the fields derived from room state. */
import { builder, type Context } from './builder.ts';
import { loaders, type RoomListing } from './loaders.ts';
import type { StateIndex } from './state-index.ts';

/**
 * What a resolved `Room` carries: its ID, and what the viewer's room list (one /sync) already
 * said about it when the room came from that list. Everything else loads on demand.
 */
export interface RoomShape {
  roomId: string;
  listing: RoomListing | null;
}

export const RoomRef = builder.objectRef<RoomShape>('Room');

/**
 * The whole current state of the room, one upstream call per room per request. Fails with
 * FORBIDDEN when the viewer may not see the room (never joined, or only invited).
 */
export function fullStateOf(context: Context, room: RoomShape): Promise<StateIndex> {
  return loaders(context).roomState.load(room.roomId);
}
