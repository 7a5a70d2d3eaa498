/** Hand-built events for the room-layer tests: just the fields the rules read. */
import type { ClientEvent, JsonObject } from '../../../src/matrix/events.ts';

export const OWNER = '@owner:hs.test';
export const MODERATOR = '@moderator:hs.test';

let sequence = 0;

/** A state event; `ts` orders events by activity. */
export function stateEvent(
  type: string,
  stateKey: string,
  sender: string,
  content: JsonObject,
  options: { ts?: number; prevContent?: JsonObject } = {},
): ClientEvent {
  sequence += 1;
  return {
    eventId: `$${type}-${sequence}`,
    roomId: '!room:hs.test',
    type,
    sender,
    originServerTs: options.ts ?? 0,
    content,
    stateKey,
    redacts: null,
    unsigned: {
      age: null,
      prevContent: options.prevContent ?? null,
      redactedBecause: null,
      transactionId: null,
    },
  };
}

/** A message event (no state key). */
export function message(sender: string, body: string, ts = 0): ClientEvent {
  return {
    ...stateEvent('m.room.message', '', sender, { msgtype: 'm.text', body }, { ts }),
    stateKey: null,
  };
}

/** `userId`'s own member event. */
export function member(userId: string, membership: string, content: JsonObject = {}): ClientEvent {
  return stateEvent('m.room.member', userId, userId, { ...content, membership });
}

export function create(version: string | null, content: JsonObject = {}, sender = OWNER) {
  return stateEvent(
    'm.room.create',
    '',
    sender,
    version === null ? content : { ...content, room_version: version },
  );
}

export function powerLevels(content: JsonObject): ClientEvent {
  return stateEvent('m.room.power_levels', '', OWNER, content);
}
