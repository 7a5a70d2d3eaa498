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

/** A viewer write, with its place in the room's history. */
type PlacedWrite = ViewerWrite & { readonly position: number };

/** An earlier read's answer on a room: its place in the room's history. */
interface PlacedAnswer {
  readonly read: number;
  readonly position: number;
}

/** What one read answered for one room, with what the checks of that room share. */
interface RoomCheck {
  readonly read: ReadRecord;
  readonly answered: AnsweredRoom;
  readonly room: RoomIndex;
  /** Records that this read broke `rule` on this room. */
  readonly flag: (rule: Rule, detail: string) => void;
}

/**
 * Keeps `current` as the room's furthest answer when it is further than the one kept, and
 * returns the one kept when `current` is behind it (a rule that never goes back is broken).
 */
function behind<T extends PlacedAnswer>(
  furthest: Map<string, T>,
  roomId: string,
  current: T,
): T | undefined {
  const previous = furthest.get(roomId);
  if (!previous || current.position > previous.position) {
    furthest.set(roomId, current);
  }
  return previous && current.position < previous.position ? previous : undefined;
}

/**
 * Rules 1 to 4 on the room's reported newest message. False when rule 1 is broken: the answer
 * then has no place in the history, and the room's other rules are not checked.
 */
function checkNewestMessage(
  { read, answered, room, flag }: RoomCheck,
  own: PlacedWrite | undefined,
  furthest: Map<string, PlacedAnswer>,
  stalenessMs: number,
): boolean {
  // 1. The reported newest message is one of the room's.
  let position = -1;
  if (answered.newestId !== null) {
    const found = room.position.get(answered.newestId);
    if (found === undefined) {
      flag(
        'exists',
        `answered ${answered.newestId} "${answered.newestBody}", not in the room's history`,
      );
      return false;
    }
    position = found;
  }
  const answeredText = describeEvent(room, position);
  // 2. Read-your-writes: the viewer's messages sent before the read show.
  if (own && position < own.position) {
    flag(
      'readYourWrites',
      `answered ${answeredText}; the viewer's "${own.value}" (${describeEvent(room, own.position)}) ` +
        `was sent ${Math.round(read.startPerf - own.endPerf)} ms before the read started`,
    );
  }
  // 3. Monotonic: never back to an older message.
  const previous = behind(furthest, answered.id, { read: read.index, position });
  if (previous) {
    flag(
      'monotonic',
      `answered ${answeredText} after read ${previous.read} answered ${describeEvent(room, previous.position)}`,
    );
  }
  // 4. Bounded staleness: messages sent long enough before the read show.
  const cutoff = read.startWall - stalenessMs;
  let due = -1;
  for (const messagePosition of room.messagePositions) {
    const event = room.events[messagePosition];
    if (event && event.ts < cutoff) {
      due = Math.max(due, messagePosition);
    }
  }
  if (position < due) {
    flag(
      'boundedStaleness',
      `answered ${answeredText}; the homeserver had ${describeEvent(room, due)}, ` +
        `${Math.round(read.startWall - (room.events[due]?.ts ?? 0))} ms before the read started`,
    );
  }
  return true;
}

/**
 * Rule 5 on the room's reported name: one the room had, never back to an older one; and
 * read-your-writes for the viewer's own renames.
 */
function checkName(
  { read, answered, room, flag }: RoomCheck,
  own: PlacedWrite | undefined,
  furthest: Map<string, PlacedAnswer & { readonly name: string }>,
): void {
  const { name } = answered;
  if (name === null) {
    return;
  }
  const position = room.namePosition.get(name);
  if (position === undefined) {
    flag('names', `answered the name "${name}", never the room's`);
    return;
  }
  const previous = behind(furthest, answered.id, { read: read.index, position, name });
  if (previous) {
    flag(
      'names',
      `answered the name "${name}" (#${position}) after read ${previous.read} answered "${previous.name}" (#${previous.position})`,
    );
  }
  if (own && position < own.position) {
    flag(
      'readYourWrites',
      `answered the name "${name}" (#${position}); the viewer renamed it ` +
        `"${own.value}" (#${own.position}) ${Math.round(read.startPerf - own.endPerf)} ms before the read started`,
    );
  }
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
  const furthestMessage = new Map<string, PlacedAnswer>();
  const furthestName = new Map<string, PlacedAnswer & { readonly name: string }>();
  // The viewer's writes in the order they completed, to find those done before each read.
  const completed = [...writes].sort((a, b) => a.endPerf - b.endPerf);

  for (const read of reads) {
    if (read.error !== undefined) {
      continue;
    }
    const flag = (rule: Rule, roomId: string, detail: string): void => {
      violations.push({ rule, read: read.index, roomId, detail });
    };
    const listed = new Set(read.rooms.map((room) => room.id));
    for (const roomId of options.roomIds) {
      if (!listed.has(roomId)) {
        flag('complete', roomId, 'the room is missing from the answer');
      }
    }
    // Per room: the newest place of a viewer message, and of a viewer rename, done before it.
    const wroteMessage = new Map<string, PlacedWrite>();
    const wroteName = new Map<string, PlacedWrite>();
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
      const check: RoomCheck = {
        read,
        answered,
        room,
        flag: (rule, detail) => flag(rule, answered.id, detail),
      };
      const own = wroteMessage.get(answered.id);
      if (checkNewestMessage(check, own, furthestMessage, options.stalenessMs)) {
        checkName(check, wroteName.get(answered.id), furthestName);
      }
    }
  }
  return violations;
}
