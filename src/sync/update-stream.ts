/**
 * One stream of the hub as its consumer sees it: an async iterator over a bounded queue of the
 * updates not taken yet. The hub pushes synchronously and a push never throws or waits. A
 * consumer still holding more than the bound when the next sync response comes is lagging: it
 * loses what can be lost without a trace (an older snapshot of a room), has its oldest timeline
 * events replaced by a `gap` of their room, or else its stream ends with `overflow`.
 */
import type { EndedUpdate, StreamEnd, SyncUpdate } from './sync-events.ts';

/** Where the hub delivers one stream's updates. */
export interface UpdateSink<T extends SyncUpdate> {
  /** One update the stream selected, or `ended`; never throws. */
  push(update: T | EndedUpdate): void;
  /** A sync response's updates follow: the moment to see whether the consumer is lagging. */
  beforeResponse(): void;
}

export interface UpdateStreamOptions<T extends SyncUpdate> {
  /**
   * The most updates the consumer may still hold when a sync response comes (at least 2). One
   * response's updates are always queued whole: however fast, a consumer takes nothing while the
   * hub hands them out, and a response may carry hundreds of backfilled events.
   */
  readonly limit: number;
  /**
   * The gap standing for dropped timeline events of a room, as this stream carries it; `null`
   * when the stream carries no gaps, whose timeline events then cannot be dropped.
   */
  readonly gapFor: (roomId: string) => T | null;
  /**
   * Starts the updates flowing, on the consumer's first `next`: subscribes the sink and returns
   * the unsubscribe function. A stream that ends before then never subscribes.
   */
  readonly open: (sink: UpdateSink<T>) => () => void;
  /** Called once, when the stream stops taking updates, however that came about. */
  readonly onClose: () => void;
  /** Called with each item as the consumer takes it (metrics: what it is, when it arrived). */
  readonly onTake?: ((item: Item<T>) => void) | undefined;
  /** Called with how many timeline events a lagging consumer lost to a gap (metrics). */
  readonly onMissed?: ((events: number) => void) | undefined;
}

type Item<T> = T | StreamEnd;

/**
 * `new`: nothing subscribed yet; `open`: taking updates; `draining`: ended or overflowed, the
 * consumer still takes what is queued; `done`: finished.
 */
type State = 'new' | 'open' | 'draining' | 'done';

/**
 * The bounded queue and its iterator. When a response comes and more than `limit` updates wait,
 * the queue is brought back to `limit` by this policy, each step in this order:
 *
 * 1. `state` and `typing` are snapshots: the oldest one that a newer one of the same kind and room
 *    supersedes is dropped, since the resolver reads fresh data anyway.
 * 2. Timeline events, in a stream that carries gaps: the oldest queued event is dropped, and a gap
 *    of its room stands where it was, so the consumer meets the gap in order, then the newest
 *    events. A room has at most one gap pending in a row: a gap already next to the dropped event
 *    absorbs it (the loop's own gap arriving right after a pending one is merged into it too).
 * 3. Otherwise (`membership`, timeline events without gaps, or snapshots of more than `limit`
 *    rooms) the stream ends: `overflow` is queued after everything it holds, and the stream stops
 *    taking updates. Nothing is ever dropped silently.
 *
 * `ended` is always queued; the stream ends after it.
 */
export class UpdateStream<T extends SyncUpdate> implements AsyncIterableIterator<Item<T>> {
  readonly #options: UpdateStreamOptions<T>;
  readonly #queue: Item<T>[] = [];
  /** Consumers waiting in `next` (only while the queue is empty). */
  readonly #waiting: ((result: IteratorResult<Item<T>, undefined>) => void)[] = [];
  #state: State = 'new';
  #unsubscribe: (() => void) | null = null;

  constructor(options: UpdateStreamOptions<T>) {
    this.#options = options;
  }

  next(): Promise<IteratorResult<Item<T>, undefined>> {
    if (this.#state === 'new') {
      this.#state = 'open';
      try {
        this.#unsubscribe = this.#options.open({
          push: (update) => this.#push(update),
          beforeResponse: () => this.#catchUp(),
        });
      } catch (error) {
        // The hub refused (it is closed): the stream ends with that error.
        this.#finish();
        return Promise.reject(error);
      }
    }
    const item = this.#queue.shift();
    if (item !== undefined) {
      if (this.#queue.length === 0 && this.#state === 'draining') {
        this.#state = 'done';
      }
      this.#options.onTake?.(item);
      return Promise.resolve({ done: false, value: item });
    }
    if (this.#state !== 'open') {
      this.#state = 'done';
      return Promise.resolve({ done: true, value: undefined });
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Finishes at once, dropping what is queued (the consumer has gone). */
  return(): Promise<IteratorResult<Item<T>, undefined>> {
    this.#finish();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** The same as {@link UpdateStream.return}: a consumer that throws in has gone too. */
  throw(): Promise<IteratorResult<Item<T>, undefined>> {
    return this.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #push(update: T | EndedUpdate): void {
    if (this.#state !== 'open') {
      return;
    }
    if (update.kind === 'ended') {
      this.#deliver(update);
      this.#stopTaking();
    } else if (update.kind !== 'gap' || this.#lastOfRoom(update.roomId)?.kind !== 'gap') {
      this.#deliver(update);
    }
  }

  /** Brings a lagging consumer's queue back to the bound, or ends the stream with `overflow`. */
  #catchUp(): void {
    if (this.#state !== 'open' || this.#queue.length <= this.#options.limit) {
      return;
    }
    const events = this.#options.onMissed ? countTimeline(this.#queue) : 0;
    while (this.#state === 'open' && this.#queue.length > this.#options.limit) {
      if (!this.#dropOne()) {
        this.#deliver({ kind: 'overflow', limit: this.#options.limit });
        this.#stopTaking();
      }
    }
    if (this.#options.onMissed) {
      const missed = events - countTimeline(this.#queue);
      if (missed > 0) {
        this.#options.onMissed(missed);
      }
    }
  }

  #deliver(item: Item<T>): void {
    const waiting = this.#waiting.shift();
    if (waiting === undefined) {
      this.#queue.push(item);
    } else {
      this.#options.onTake?.(item);
      waiting({ done: false, value: item });
    }
  }

  /** Frees at least one place in the queue, by the policy above; false if it cannot. */
  #dropOne(): boolean {
    const queue = this.#queue;
    const superseded = oldestSuperseded(queue);
    if (superseded !== -1) {
      queue.splice(superseded, 1);
      return true;
    }
    for (let index = 0; index < queue.length; index++) {
      const item = queue[index];
      if (item?.kind !== 'timeline') {
        continue;
      }
      const gap = this.#options.gapFor(item.roomId);
      if (gap === null) {
        return false;
      }
      const length = queue.length;
      queue[index] = gap;
      this.#mergeGaps(item.roomId);
      if (queue.length < length) {
        // A gap of the room was pending right before or after the event: it absorbed it.
        return true;
      }
      // The event's own gap frees nothing: it takes the room's next event (one more drop) too.
      const next = queue.findIndex((later, at) => at > index && inRoom(later, item.roomId));
      if (next === -1) {
        // The room's only event: an event of another room, older or not, may still give way.
        queue[index] = item;
        continue;
      }
      queue.splice(next, 1);
      this.#mergeGaps(item.roomId);
      return true;
    }
    return false;
  }

  /** The room's last queued item, to merge an arriving gap into one pending right before it. */
  #lastOfRoom(roomId: string): Item<T> | undefined {
    return this.#queue.findLast((item) => inRoom(item, roomId));
  }

  /** Drops every gap of the room that follows another with none of the room's events between. */
  #mergeGaps(roomId: string): void {
    let previous: Item<T> | undefined;
    for (let index = 0; index < this.#queue.length; index++) {
      const item = this.#queue[index];
      if (item === undefined || !inRoom(item, roomId)) {
        continue;
      }
      if (item.kind === 'gap' && previous?.kind === 'gap') {
        this.#queue.splice(index, 1);
        index--;
      } else {
        previous = item;
      }
    }
  }

  /** Takes no more updates; what is queued is still delivered, then the stream finishes. */
  #stopTaking(): void {
    if (this.#state !== 'open') {
      return;
    }
    this.#state = this.#queue.length === 0 ? 'done' : 'draining';
    this.#release();
    if (this.#state === 'done') {
      this.#resolveWaiting();
    }
  }

  #finish(): void {
    const wasTaking = this.#state === 'new' || this.#state === 'open';
    this.#state = 'done';
    this.#queue.length = 0;
    this.#resolveWaiting();
    if (wasTaking) {
      this.#release();
    }
  }

  #resolveWaiting(): void {
    for (const waiting of this.#waiting.splice(0)) {
      waiting({ done: true, value: undefined });
    }
  }

  #release(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#options.onClose();
  }
}

function countTimeline(queue: readonly Item<SyncUpdate>[]): number {
  let count = 0;
  for (const item of queue) {
    if (item.kind === 'timeline') {
      count++;
    }
  }
  return count;
}

function inRoom(item: Item<SyncUpdate>, roomId: string): boolean {
  return 'roomId' in item && item.roomId === roomId;
}

/** Updates that say how something is now: a newer one of the same room makes an older one moot. */
const SNAPSHOT_KINDS: ReadonlySet<string> = new Set(['state', 'typing', 'unread', 'tags']);

/** The index of the oldest queued snapshot a newer one of its kind and room supersedes, or -1. */
function oldestSuperseded(queue: readonly Item<SyncUpdate>[]): number {
  const newer = new Set<string>();
  let oldest = -1;
  for (let index = queue.length - 1; index >= 0; index--) {
    const item = queue[index];
    if (item === undefined || !SNAPSHOT_KINDS.has(item.kind) || !('roomId' in item)) {
      continue;
    }
    const key = `${item.kind} ${item.roomId}`;
    if (newer.has(key)) {
      oldest = index;
    }
    newer.add(key);
  }
  return oldest;
}
