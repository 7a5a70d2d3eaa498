/** A room's state as a lookup by (type, state key), from full events or an invite's stripped state. */
import type { ClientEvent, JsonObject, StrippedStateEvent } from '../matrix/events.ts';

export interface StateEntry {
  type: string;
  stateKey: string;
  sender: string;
  content: JsonObject;
  /** The whole event; `null` for stripped invite state, which has no ID or timestamp. */
  event: ClientEvent | null;
}

export class StateIndex {
  readonly #entries = new Map<string, StateEntry>();

  /** Later events for the same (type, key) replace earlier ones: pass them in timeline order. */
  static fromEvents(events: readonly ClientEvent[]): StateIndex {
    const index = new StateIndex();
    for (const event of events) {
      if (event.stateKey !== null) {
        index.#put({
          type: event.type,
          stateKey: event.stateKey,
          sender: event.sender,
          content: event.content,
          event,
        });
      }
    }
    return index;
  }

  static fromStripped(events: readonly StrippedStateEvent[]): StateIndex {
    const index = new StateIndex();
    for (const event of events) {
      index.#put({ ...event, event: null });
    }
    return index;
  }

  #put(entry: StateEntry): void {
    this.#entries.set(`${entry.type}\u0000${entry.stateKey}`, entry);
  }

  get(type: string, stateKey = ''): StateEntry | null {
    return this.#entries.get(`${type}\u0000${stateKey}`) ?? null;
  }

  /** The content of one state event, or `null` when the room has none. */
  content(type: string, stateKey = ''): JsonObject | null {
    return this.get(type, stateKey)?.content ?? null;
  }

  /** Every entry, optionally only of the given types. */
  entries(types?: readonly string[]): StateEntry[] {
    const all = [...this.#entries.values()];
    return types ? all.filter((entry) => types.includes(entry.type)) : all;
  }
}
