/**
 * A room's state as a lookup by (type, state key), from full events or from the stripped state an
 * invite or knock shares. Matrix state is exactly that map: one current event per (type, key).
 */
import type { ClientEvent, JsonObject, StrippedStateEvent } from '../matrix/events.ts';

/** One piece of current state: the event under a (type, state key). */
export interface StateEntry {
  type: string;
  stateKey: string;
  sender: string;
  content: JsonObject;
  /** The whole event; `null` for stripped state, which has no ID or timestamp. */
  event: ClientEvent | null;
}

/** The current state of one room, one entry per (type, state key). */
export class StateIndex {
  readonly #entries = new Map<string, StateEntry>();
  /**
   * The entries under an empty state key (the room's name, topic, create event…), by type alone:
   * the fields of a listed room read these, and so look them up without building a key.
   */
  readonly #byTypeAlone = new Map<string, StateEntry>();

  /**
   * Indexes the state events among `events` (the others are skipped). Later events for the same
   * (type, key) replace earlier ones: pass them in timeline order.
   */
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

  /** Indexes stripped state (`invite_state`, `knock_state`). */
  static fromStripped(events: readonly StrippedStateEvent[]): StateIndex {
    const index = new StateIndex();
    for (const event of events) {
      index.#put({ ...event, event: null });
    }
    return index;
  }

  #put(entry: StateEntry): void {
    this.#entries.set(indexKey(entry.type, entry.stateKey), entry);
    if (entry.stateKey === '') {
      this.#byTypeAlone.set(entry.type, entry);
    }
  }

  /** The state under (type, key), or `null` when the room has none. */
  get(type: string, stateKey = ''): StateEntry | null {
    return (
      (stateKey === ''
        ? this.#byTypeAlone.get(type)
        : this.#entries.get(indexKey(type, stateKey))) ?? null
    );
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

/** Type and state key joined by NUL, which no event type in use contains. */
function indexKey(type: string, stateKey: string): string {
  return `${type}\u0000${stateKey}`;
}
