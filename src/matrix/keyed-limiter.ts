/**
 * A cap on how many calls of one key run at once, the key being an access token: one user's burst
 * (a query fanning out into dozens of upstream calls) waits in its own queue instead of taking
 * every connection of the shared pool, so another user's call still finds one free.
 */

interface Waiter {
  /** Hands the waiter the slot released by a finished call. */
  readonly grant: () => void;
}

interface KeyState {
  /** Calls of this key running now (slots taken). */
  active: number;
  /** Calls of this key waiting for a slot, oldest first. */
  readonly queue: Waiter[];
}

/**
 * At most `limit` calls in flight per key; further calls of that key wait, first come first
 * served, and a waiting call whose signal aborts leaves the queue at once with the signal's
 * reason. A key is forgotten as soon as it has nothing running or waiting, so memory follows the
 * keys in use, not every key ever seen. Keys are only compared, never logged or exposed.
 */
export class KeyedLimiter {
  readonly limit: number;
  readonly #keys = new Map<string, KeyState>();

  /** @param limit - calls in flight per key, at least 1. */
  constructor(limit: number) {
    if (!(limit >= 1)) {
      throw new RangeError(`a concurrency limit must be at least 1, not ${limit}`);
    }
    this.limit = limit;
  }

  /** How many keys have calls running or waiting: what the limiter holds in memory. */
  get size(): number {
    return this.#keys.size;
  }

  /** Calls of `key` waiting for a slot now. */
  waiting(key: string): number {
    return this.#keys.get(key)?.queue.length ?? 0;
  }

  /**
   * Runs `task` once `key` has a free slot, and frees the slot when it settles. Rejects with
   * `signal.reason` (and never runs `task`) when `signal` aborts first.
   */
  async run<T>(key: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.#acquire(key, signal);
    try {
      return await task();
    } finally {
      this.#release(key);
    }
  }

  #acquire(key: string, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) {
      return Promise.reject(signal.reason);
    }
    let state = this.#keys.get(key);
    if (state === undefined) {
      state = { active: 0, queue: [] };
      this.#keys.set(key, state);
    }
    if (state.active < this.limit) {
      state.active += 1;
      return Promise.resolve();
    }
    const { queue } = state;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = queue.indexOf(waiter);
        if (index !== -1) {
          queue.splice(index, 1);
        }
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      queue.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The slot goes straight to the oldest waiter, or back to the key, which goes when idle. */
  #release(key: string): void {
    const state = this.#keys.get(key);
    if (state === undefined) {
      return;
    }
    const next = state.queue.shift();
    if (next !== undefined) {
      next.grant();
      return;
    }
    state.active -= 1;
    if (state.active === 0) {
      this.#keys.delete(key);
    }
  }
}
