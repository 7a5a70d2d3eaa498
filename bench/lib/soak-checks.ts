/**
 * The checks of the warm-view churn soak (bench/warm-soak.ts): every room list answer the viewer
 * got, held against each room's full history as the homeserver has it after the run (its timeline
 * in order, oldest first, with `origin_server_ts`). A message's place in its room is its index in
 * that timeline.
 */

/** One timeline event of a room, as `/messages` gave it. */
export interface HistoryEvent {
  readonly eventId: string;
  readonly type: string;
  readonly sender: string;
  readonly ts: number;
  /** `content.body` of an `m.room.message`. */
  readonly body?: string;
  /** `content.name` of an `m.room.name`. */
  readonly name?: string;
}

/** One room of one answer: what the facade said. */
export interface AnsweredRoom {
  readonly id: string;
  readonly name: string | null;
  /** The newest message's event ID (`messages(last: 1)`), null when it listed none. */
  readonly newestId: string | null;
  readonly newestBody: string | null;
}

/** One room list read by the viewer. */
export interface ReadRecord {
  readonly index: number;
  readonly requestId: string;
  /** `Date.now()` and `performance.now()` when the request was sent, and when it was read. */
  readonly startWall: number;
  readonly startPerf: number;
  readonly endWall: number;
  readonly endPerf: number;
  /** Upstream calls made under this read's request ID. */
  readonly upstreamCalls: number;
  readonly upstreamEndpoints: readonly string[];
  /** The answer's rooms, in its order; empty when the read failed. */
  readonly rooms: readonly AnsweredRoom[];
  /** Why the read failed, if it did (such a read is left out of the checks). */
  readonly error?: string;
}

/** One write the viewer made through the facade. */
export interface ViewerWrite {
  readonly kind: 'message' | 'name';
  readonly roomId: string;
  /** The message body (`v-<n>`) or the new name (`v-name-<n>`), unique in the run. */
  readonly value: string;
  /** The message's event ID (`sendMessage` answers it); null for a rename. */
  readonly eventId: string | null;
  readonly startPerf: number;
  readonly endPerf: number;
  readonly startWall: number;
  readonly endWall: number;
}

export const RULES = [
  'exists',
  'readYourWrites',
  'monotonic',
  'boundedStaleness',
  'names',
  'complete',
] as const;
export type Rule = (typeof RULES)[number];

export interface Violation {
  readonly rule: Rule;
  readonly read: number;
  readonly roomId: string;
  readonly detail: string;
}

export interface CheckOptions {
  /** Rule 4's bound: messages sent more than this long before a read started must show. */
  readonly stalenessMs: number;
  /** The rooms the viewer was in for the whole run (rule `complete`: every answer lists them). */
  readonly roomIds: readonly string[];
}

interface RoomIndex {
  readonly events: readonly HistoryEvent[];
  readonly position: ReadonlyMap<string, number>;
  /** Place of the `m.room.name` event that set each name. */
  readonly namePosition: ReadonlyMap<string, number>;
  /** Places of the `m.room.message` events, ascending. */
  readonly messagePositions: readonly number[];
}

function indexRoom(events: readonly HistoryEvent[]): RoomIndex {
  const position = new Map<string, number>();
  const namePosition = new Map<string, number>();
  const messagePositions: number[] = [];
  events.forEach((event, index) => {
    position.set(event.eventId, index);
    if (event.type === 'm.room.name' && event.name !== undefined) {
      // Names are unique in the soak; were one set twice, its latest place is kept.
      namePosition.set(event.name, index);
    }
    if (event.type === 'm.room.message') {
      messagePositions.push(index);
    }
  });
  return { events, position, namePosition, messagePositions };
}

function describeEvent(room: RoomIndex, position: number): string {
  if (position < 0) {
    return 'no message';
  }
  const event = room.events[position];
  if (!event) {
    return `#${position}?`;
  }
  const what = event.body ?? event.name ?? event.type;
  return `#${position} ${event.eventId} "${what}" ts ${new Date(event.ts).toISOString()}`;
}

/**
 * Every violation of the soak's rules in `reads` (sequential, in order) given each room's
 * `history` (oldest first) and the viewer's own `writes`.
 */
export function checkSoak(
  reads: readonly ReadRecord[],
  writes: readonly ViewerWrite[],
  history: ReadonlyMap<string, readonly HistoryEvent[]>,
  options: CheckOptions,
): Violation[] {
  const rooms = new Map([...history].map(([roomId, events]) => [roomId, indexRoom(events)]));
  const violations: Violation[] = [];
  const lastMessagePosition = new Map<string, { read: number; position: number }>();
  const lastNamePosition = new Map<string, { read: number; position: number; name: string }>();
  // The viewer's writes in the order they completed, to find those done before each read.
  const completed = [...writes].sort((a, b) => a.endPerf - b.endPerf);

  for (const read of reads) {
    if (read.error !== undefined) {
      continue;
    }
    const listed = new Set(read.rooms.map((room) => room.id));
    for (const roomId of options.roomIds) {
      if (!listed.has(roomId)) {
        violations.push({
          rule: 'complete',
          read: read.index,
          roomId,
          detail: 'the room is missing from the answer',
        });
      }
    }
    // Per room: the newest place of a viewer message, and of a viewer rename, done before it.
    const wroteMessage = new Map<string, ViewerWrite & { position: number }>();
    const wroteName = new Map<string, ViewerWrite & { position: number }>();
    for (const write of completed) {
      if (write.endPerf >= read.startPerf) {
        break;
      }
      const room = rooms.get(write.roomId);
      const position =
        write.kind === 'message'
          ? room?.position.get(write.eventId ?? '')
          : room?.namePosition.get(write.value);
      if (position === undefined) {
        continue;
      }
      const byRoom = write.kind === 'message' ? wroteMessage : wroteName;
      const known = byRoom.get(write.roomId);
      if (!known || known.position < position) {
        byRoom.set(write.roomId, { ...write, position });
      }
    }

    for (const answered of read.rooms) {
      const room = rooms.get(answered.id);
      if (!room) {
        continue;
      }
      // 1. The reported newest message is one of the room's.
      let position = -1;
      if (answered.newestId !== null) {
        const found = room.position.get(answered.newestId);
        if (found === undefined) {
          violations.push({
            rule: 'exists',
            read: read.index,
            roomId: answered.id,
            detail: `answered ${answered.newestId} "${answered.newestBody}", not in the room's history`,
          });
          continue;
        }
        position = found;
      }
      const answeredText = describeEvent(room, position);
      // 2. Read-your-writes: the viewer's messages sent before the read show.
      const own = wroteMessage.get(answered.id);
      if (own && position < own.position) {
        violations.push({
          rule: 'readYourWrites',
          read: read.index,
          roomId: answered.id,
          detail:
            `answered ${answeredText}; the viewer's "${own.value}" (${describeEvent(room, own.position)}) ` +
            `was sent ${Math.round(read.startPerf - own.endPerf)} ms before the read started`,
        });
      }
      // 3. Monotonic: never back to an older message.
      const previous = lastMessagePosition.get(answered.id);
      if (previous && position < previous.position) {
        violations.push({
          rule: 'monotonic',
          read: read.index,
          roomId: answered.id,
          detail: `answered ${answeredText} after read ${previous.read} answered ${describeEvent(room, previous.position)}`,
        });
      }
      if (!previous || position > previous.position) {
        lastMessagePosition.set(answered.id, { read: read.index, position });
      }
      // 4. Bounded staleness: messages sent long enough before the read show.
      const cutoff = read.startWall - options.stalenessMs;
      let due = -1;
      for (const messagePosition of room.messagePositions) {
        const event = room.events[messagePosition];
        if (event && event.ts < cutoff) {
          due = Math.max(due, messagePosition);
        }
      }
      if (position < due) {
        violations.push({
          rule: 'boundedStaleness',
          read: read.index,
          roomId: answered.id,
          detail:
            `answered ${answeredText}; the homeserver had ${describeEvent(room, due)}, ` +
            `${Math.round(read.startWall - (room.events[due]?.ts ?? 0))} ms before the read started`,
        });
      }
      // 5. Names: one the room had, never back to an older one, and the viewer's own renames.
      if (answered.name !== null) {
        const namePosition = room.namePosition.get(answered.name);
        if (namePosition === undefined) {
          violations.push({
            rule: 'names',
            read: read.index,
            roomId: answered.id,
            detail: `answered the name "${answered.name}", never the room's`,
          });
          continue;
        }
        const previousName = lastNamePosition.get(answered.id);
        if (previousName && namePosition < previousName.position) {
          violations.push({
            rule: 'names',
            read: read.index,
            roomId: answered.id,
            detail: `answered the name "${answered.name}" (#${namePosition}) after read ${previousName.read} answered "${previousName.name}" (#${previousName.position})`,
          });
        }
        if (!previousName || namePosition > previousName.position) {
          lastNamePosition.set(answered.id, {
            read: read.index,
            position: namePosition,
            name: answered.name,
          });
        }
        const ownName = wroteName.get(answered.id);
        if (ownName && namePosition < ownName.position) {
          violations.push({
            rule: 'readYourWrites',
            read: read.index,
            roomId: answered.id,
            detail:
              `answered the name "${answered.name}" (#${namePosition}); the viewer renamed it ` +
              `"${ownName.value}" (#${ownName.position}) ${Math.round(read.startPerf - ownName.endPerf)} ms before the read started`,
          });
        }
      }
    }
  }
  return violations;
}
