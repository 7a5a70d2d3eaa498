/**
 * A bounded memory of recently seen IDs: the sync bridge's defence against delivering an event
 * twice (a retried sync, a backfill page overlapping the timeline).
 */

/**
 * The most recent `capacity` IDs, oldest forgotten first. Remembering an ID again refreshes it, so
 * the newest event of a room is never the next to be forgotten.
 */
export class RecentIds {
  readonly capacity: number;
  // A Set iterates in insertion order: its first element is the oldest, which makes it an LRU.
  readonly #ids = new Set<string>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, not ${capacity}`);
    }
    this.capacity = capacity;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Remembers `id`, forgetting the oldest ID when the memory is full. */
  remember(id: string): void {
    this.#ids.delete(id);
    this.#ids.add(id);
    if (this.#ids.size > this.capacity) {
      const oldest = this.#ids.values().next();
      if (!oldest.done) {
        this.#ids.delete(oldest.value);
      }
    }
  }

  /** The newest `count` IDs remembered, oldest of them first. */
  newest(count: number): string[] {
    const ids = [...this.#ids];
    return ids.slice(Math.max(0, ids.length - count));
  }

  get size(): number {
    return this.#ids.size;
  }
}
