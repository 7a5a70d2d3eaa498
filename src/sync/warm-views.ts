/**
 * Warm room views: for each access token read recently (or streaming), a {@link RoomView} kept in
 * memory from the token's one sync loop, so that its room list is answered with no upstream call.
 *
 * A view starts with a snapshot the loop takes between two of its syncs, then applies every
 * response after it, in order: it is exactly as fresh as the token's own stream, and answers only
 * once the stream has passed the snapshot. A call of the token's that writes or reads its rooms
 * upstream (a mutation, a read answered cold) makes the loop sync again at once, and the view
 * answers again only from a response requested after that call ended (read-your-writes, and no
 * answer older than one given cold; a read waits for it a bounded time, then goes cold). In
 * cluster mode a read also waits until this instance has what the loop had published when it
 * began. Views are keyed by token, never by user: one token's view never answers another's
 * request.
 *
 * Memory is bounded: a view past its own budget is dropped, and past the overall budget the views
 * read longest ago go first; a view unread for the idle time goes unless its token still streams.
 */
import type { SyncFilter, SyncResponse } from '../matrix/sync.ts';
import { RoomView, VIEW_SNAPSHOT_FILTER } from '../room/room-view.ts';
import type { LoopObservation, SyncAccount, SyncHub } from './sync-hub.ts';

export interface WarmViewsOptions {
  /** The hub whose loops feed the views. */
  hub: () => SyncHub;
  /** How long a view outlives its last read when its token does not stream. */
  idleMs: number;
  /** The most one view may hold (estimated bytes); a larger one is dropped. */
  maxBytesPerView: number;
  /** The most all views may hold together; past it the least recently read go. */
  maxBytes: number;
  /**
   * The most views at once; past it the least recently read go. Each keeps a long-poll open, so
   * this stays well below the long-poll pool (`SYNC_CONNECTIONS`), which subscriptions share.
   */
  maxViews: number;
  /** How long a read waits for the stream to catch up with the token's last write. */
  readYourWritesMs: number;
  /**
   * Cluster mode: tells the other instances of a write of a token that has no view here, for
   * theirs (src/cluster/cluster-feed.ts `announceWrites`).
   */
  announceWrite?: ((accessToken: string) => Promise<void>) | undefined;
  metrics?: WarmViewMetrics | undefined;
}

/** Why a read was not answered warm. */
export type WarmMiss = 'cold' | 'warming' | 'writing' | 'behind';
/** Why a view was dropped. */
export type WarmEviction = 'idle' | 'budget' | 'ended' | 'failed' | 'lost';

/** What the views report (src/server/metrics.ts); each call must be cheap. */
export interface WarmViewMetrics {
  hit(): void;
  miss(reason: WarmMiss): void;
  evicted(reason: WarmEviction): void;
}

interface Entry {
  readonly accessToken: string;
  readonly observation: LoopObservation;
  /** `null` until the snapshot is in. */
  view: RoomView | null;
  lastReadAt: number;
  /** When the token's last write or cold read (upstream call touching its rooms) ended. */
  touchedAt: number;
  /** When the request of the last response applied was sent (the snapshot's: when asked). */
  appliedRequestedAt: number;
  /**
   * Whether a response after the snapshot was applied. A snapshot may hold events past the
   * stream's position (it is taken between two syncs, fresh); until the stream has passed it, the
   * view is ahead of every other view of the token and of where a takeover of the loop would
   * resume (cluster mode), and answering from it could make the next answer elsewhere go back.
   */
  pastSnapshot: boolean;
  /** Reads waiting for the stream to pass a write, and followers waiting for a change. */
  readonly waiters: Set<() => void>;
  /** Live followers ({@link WarmViews.follow}): the view is not dropped for being idle. */
  followers: number;
  /** Why the view was dropped, once it was. */
  dropped: WarmEviction | null;
}

/** A followed view was dropped ({@link WarmViews.follow}): over its budget, or its token ended. */
export class WarmViewDroppedError extends Error {
  override readonly name = 'WarmViewDroppedError';
  readonly reason: WarmEviction;
  constructor(reason: WarmEviction) {
    super(`the warm room view was dropped (${reason})`);
    this.reason = reason;
  }
}

export class WarmViews {
  readonly #options: WarmViewsOptions;
  /** By token; in order of last read (a read moves its entry to the end). */
  readonly #entries = new Map<string, Entry>();
  readonly #sweep: ReturnType<typeof setInterval>;
  /**
   * Tokens whose view went over its own budget, and until when not to warm them again: each new
   * view starts with a full snapshot, which a token too large to keep would pay on every read.
   */
  readonly #tooLarge = new Map<string, number>();
  #bytes = 0;

  constructor(options: WarmViewsOptions) {
    this.#options = options;
    this.#sweep = setInterval(
      () => this.#dropIdle(),
      Math.max(1000, Math.min(options.idleMs / 2, 10_000)),
    );
    this.#sweep.unref();
  }

  /**
   * The token's view, ready to answer: caught up with the token's last write (waiting for that at
   * most `readYourWritesMs`). `null` when there is none yet or it could not catch up in time; then
   * {@link WarmViews.warm} starts one for the next read.
   */
  async read(accessToken: string): Promise<RoomView | null> {
    const entry = this.#entries.get(accessToken);
    if (entry === undefined) {
      this.#options.metrics?.miss('cold');
      return null;
    }
    entry.lastReadAt = performance.now();
    this.#entries.delete(accessToken);
    this.#entries.set(accessToken, entry);
    if (entry.view === null) {
      this.#options.metrics?.miss('warming');
      return null;
    }
    // Cluster mode: not behind what another instance may have answered already.
    if (!(await entry.observation.current(this.#options.readYourWritesMs))) {
      this.#options.metrics?.miss('behind');
      return null;
    }
    if (!(await this.#caughtUp(entry))) {
      this.#options.metrics?.miss(entry.pastSnapshot ? 'writing' : 'warming');
      return null;
    }
    this.#options.metrics?.hit();
    return entry.view;
  }

  /** Starts a view of the account's rooms, if it has none (its loop takes a snapshot). */
  warm(account: SyncAccount): void {
    if (this.#entries.has(account.accessToken)) {
      return;
    }
    const until = this.#tooLarge.get(account.accessToken);
    if (until !== undefined) {
      if (performance.now() < until) {
        return;
      }
      this.#tooLarge.delete(account.accessToken);
    }
    const askedAt = performance.now();
    let entry: Entry | undefined;
    const observation = this.#options.hub().observe(account, VIEW_SNAPSHOT_FILTER as SyncFilter, {
      onResponse: (response, requestedAt) => {
        if (entry !== undefined) {
          this.#apply(entry, response, requestedAt);
        }
      },
      onEnded: () => {
        if (entry !== undefined) {
          this.#drop(entry, 'ended');
        }
      },
      // Cluster mode: a response went missing on its way here; the next read starts afresh.
      onLost: () => {
        if (entry !== undefined) {
          this.#drop(entry, 'lost');
        }
      },
      onTouched: () => {
        if (entry !== undefined) {
          entry.touchedAt = performance.now();
        }
      },
    });
    const created: Entry = {
      accessToken: account.accessToken,
      observation,
      view: null,
      lastReadAt: askedAt,
      touchedAt: 0,
      appliedRequestedAt: askedAt,
      pastSnapshot: false,
      waiters: new Set(),
      followers: 0,
      dropped: null,
    };
    entry = created;
    this.#entries.set(account.accessToken, created);
    this.#enforceBudgets(created);
    observation.snapshot.then(
      (snapshot) => {
        if (this.#entries.get(created.accessToken) !== created) {
          return;
        }
        const view = new RoomView(account.userId);
        view.reset(snapshot);
        created.view = view;
        this.#bytes += view.bytes;
        this.#enforceBudgets(created);
        this.#wakeWaiters(created);
      },
      () => this.#drop(created, 'failed'),
    );
  }

  /**
   * A call of the token's wrote or read its rooms upstream (a mutation, or a read answered cold):
   * it made or saw a state the stream may not have brought yet. The view answers again once the
   * stream has a response requested after the call, which the loop is asked for at once; so no
   * answer goes back from what the call did or showed. In cluster mode the other instances are
   * told too (their views wait the same way).
   */
  async touched(accessToken: string): Promise<void> {
    const entry = this.#entries.get(accessToken);
    if (entry === undefined) {
      await this.#options.announceWrite?.(accessToken);
      return;
    }
    entry.touchedAt = performance.now();
    await entry.observation.nudge();
  }

  /**
   * The account's view once its snapshot is in, then again after each response it applies (a
   * consumer that takes its time gets the newest, not every one), until `signal` aborts. The view
   * is kept while followed, however long since it was read, and one that lost its stream (cluster
   * mode) is started again; throws {@link WarmViewDroppedError} when it is dropped all the same
   * (its budget, its token revoked).
   */
  async *follow(account: SyncAccount, signal: AbortSignal): AsyncGenerator<RoomView> {
    let seen: RoomView | null = null;
    let version = -1;
    while (!signal.aborted) {
      this.warm(account);
      const entry = this.#entries.get(account.accessToken);
      if (entry === undefined) {
        // Over budget at once, or too large to warm again yet: nothing to follow.
        throw new WarmViewDroppedError('budget');
      }
      entry.followers += 1;
      try {
        while (!signal.aborted && entry.dropped === null) {
          const view = entry.view;
          if (view !== null && entry.pastSnapshot && (view !== seen || view.version !== version)) {
            seen = view;
            version = view.version;
            entry.lastReadAt = performance.now();
            yield view;
            continue;
          }
          await this.#changed(entry, signal);
        }
      } finally {
        entry.followers -= 1;
      }
      if (entry.dropped !== null && entry.dropped !== 'lost') {
        throw new WarmViewDroppedError(entry.dropped);
      }
    }
  }

  /** Resolves at the entry's next change (a response applied, its drop) or when `signal` aborts. */
  #changed(entry: Entry, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        entry.waiters.delete(wake);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      entry.waiters.add(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  /** How many views there are, and what they hold in all (estimated bytes). */
  get stats(): { views: number; bytes: number } {
    return { views: this.#entries.size, bytes: this.#bytes };
  }

  /** Drops every view (the loops stop after their grace period unless streams hold them). */
  close(): void {
    clearInterval(this.#sweep);
    for (const entry of [...this.#entries.values()]) {
      this.#drop(entry, 'idle');
    }
  }

  #apply(entry: Entry, response: SyncResponse, requestedAt: number): void {
    const view = entry.view;
    if (view === null || this.#entries.get(entry.accessToken) !== entry) {
      // Responses before the snapshot is in are in it already.
      return;
    }
    const before = view.bytes;
    view.apply(response);
    this.#bytes += view.bytes - before;
    // A response relayed from another instance may name no write of this one's (0).
    entry.appliedRequestedAt = Math.max(entry.appliedRequestedAt, requestedAt);
    entry.pastSnapshot = true;
    this.#enforceBudgets(entry);
    this.#wakeWaiters(entry);
  }

  /**
   * Whether the stream has passed the view's snapshot and the token's last write, waiting for it
   * a bounded time.
   */
  #caughtUp(entry: Entry): Promise<boolean> {
    // A response relayed through Redis carries the time this instance heard of the write it
    // passed, which is not before the write's own: hence not strictly after.
    const passed = () => entry.pastSnapshot && entry.appliedRequestedAt >= entry.touchedAt;
    if (passed()) {
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const check = () => {
        if (passed() || this.#entries.get(entry.accessToken) !== entry) {
          settle(passed() && entry.view !== null);
        }
      };
      const timer = setTimeout(() => settle(false), this.#options.readYourWritesMs);
      const settle = (ok: boolean) => {
        clearTimeout(timer);
        entry.waiters.delete(check);
        resolve(ok);
      };
      entry.waiters.add(check);
    });
  }

  #wakeWaiters(entry: Entry): void {
    for (const waiter of [...entry.waiters]) {
      waiter();
    }
  }

  #enforceBudgets(entry: Entry): void {
    if ((entry.view?.bytes ?? 0) > this.#options.maxBytesPerView) {
      this.#drop(entry, 'budget');
      this.#noteTooLarge(entry.accessToken);
    }
    // The least recently read first: the map keeps that order.
    for (const oldest of this.#entries.values()) {
      if (this.#bytes <= this.#options.maxBytes && this.#entries.size <= this.#options.maxViews) {
        break;
      }
      this.#drop(oldest, 'budget');
    }
  }

  #noteTooLarge(accessToken: string): void {
    this.#tooLarge.set(accessToken, performance.now() + this.#options.idleMs);
    // Bounded like the views themselves: the oldest note goes first.
    if (this.#tooLarge.size > this.#options.maxViews) {
      const oldest = this.#tooLarge.keys().next().value as string;
      this.#tooLarge.delete(oldest);
    }
  }

  #dropIdle(): void {
    const now = performance.now();
    const hub = this.#options.hub();
    for (const entry of [...this.#entries.values()]) {
      // Besides the view's own observation, anything listening means the token streams.
      const streaming = hub.listenerCount(entry.accessToken) > 1 || entry.followers > 0;
      if (!streaming && now - entry.lastReadAt > this.#options.idleMs) {
        this.#drop(entry, 'idle');
      }
    }
  }

  #drop(entry: Entry, reason: WarmEviction): void {
    if (this.#entries.get(entry.accessToken) !== entry) {
      return;
    }
    this.#entries.delete(entry.accessToken);
    this.#bytes -= entry.view?.bytes ?? 0;
    entry.view = null;
    entry.dropped = reason;
    entry.observation.close();
    this.#wakeWaiters(entry);
    this.#options.metrics?.evicted(reason);
  }
}
