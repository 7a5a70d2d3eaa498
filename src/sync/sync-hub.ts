/**
 * Owns one long-poll sync loop per access token, shared by every subscription of that token across
 * all connections, and fans each loop's updates out to its listeners, as plain callbacks or as
 * typed streams of one kind of update (and one room).
 */
import type { Upstream, UpstreamLogger } from '../matrix/http.ts';
import type { SyncFilter, SyncResponse } from '../matrix/sync.ts';
import { defaultSyncBackoff, type SyncBackoffPolicy } from './sync-backoff.ts';
import type {
  StreamEnd,
  SyncListener,
  SyncUpdate,
  SyncUpdateKind,
  SyncUpdateOf,
} from './sync-events.ts';
import { SyncLoop, type SyncLoopOptions, type SyncTransport } from './sync-loop.ts';
import { UpdateStream } from './update-stream.ts';

export interface SyncHubOptions {
  /**
   * Where the loops sync from. Its retry policy applies to each request first (a few quick
   * retries of a 502 or a reset); the loop's own backoff ({@link SyncHubOptions.backoff}) governs
   * once a failure surfaces. Give the hub `upstream.longPollPool({ retry: { maxAttempts: 1 } })`:
   * the loop's backoff alone, and connections of its own, since every loop holds one for each
   * long-poll and would otherwise take them from queries.
   */
  upstream: Upstream;
  /**
   * How long the homeserver may hold each long-poll (`/sync` `timeout`).
   * @default 30000
   */
  pollTimeoutMs?: number;
  /**
   * How long a loop outlives its last listener, so that a reconnecting client finds it running.
   * @default 5000
   */
  gracePeriodMs?: number;
  /**
   * The most events backfilled for one room after a `limited` sync before giving up with a `gap`.
   * @default 500
   */
  maxBackfillEvents?: number;
  logger?: UpstreamLogger;
  /**
   * The loops' backoff after failed requests.
   * @default {@link defaultSyncBackoff}
   */
  backoff?: Partial<SyncBackoffPolicy>;
  /**
   * How many updates a stream's consumer may still hold, not taken yet, when the next sync
   * response comes (one response is always queued whole). Past it the consumer is lagging: its
   * oldest timeline events give way to a `gap` of their room, older `state` and `typing`
   * snapshots to newer ones, and a stream that can do neither (`membership`) ends with `overflow`
   * ({@link UpdateStream}). At least 2.
   * @default 256
   */
  streamQueueLimit?: number;
  /**
   * The most live streams of one access token, across every connection: one more is refused
   * with {@link TooManyStreamsError} when asked for, before it subscribes.
   * @default 200
   */
  maxStreamsPerToken?: number;
  /**
   * Called when the last loop has stopped and settled: nothing of any subscriber is running any
   * more (the server then gives the memory of the burst back: src/server/idle-memory.ts).
   */
  onIdle?: () => void;
  /**
   * The upstream calls the loops make, for unit tests that script them.
   * @default the real endpoint functions ({@link matrixSyncTransport})
   */
  transport?: SyncTransport;
  /** Told of gaps and lost events (src/server/metrics.ts); none by default. */
  metrics?: SyncHubMetrics;
  /**
   * What feeds a token's listeners (cluster mode: a loop shared with other instances through
   * Redis, src/cluster/cluster-feed.ts).
   * @default a sync loop of this process ({@link localFeed})
   */
  feeds?: SyncFeedFactory;
}

/** Where a token's updates come from while it has listeners here: run until stopped. */
export interface SyncFeed {
  /** Feeds until {@link SyncFeed.stop} or until the token is rejected; never rejects. */
  run(): Promise<void>;
  /** Stops feeding; idempotent. */
  stop(): void;
  /**
   * A snapshot made with `filter` between two syncs of the token's loop, wherever it runs: every
   * response the feed hands its observers after it is newer ({@link SyncFeedInit.respond}).
   */
  snapshot(filter: SyncFilter): Promise<SyncResponse>;
  /**
   * Makes the token's loop sync again now, wherever it runs; resolves once the instances that
   * need to know have been told (cluster mode, bounded), at once otherwise.
   */
  nudge(): void | Promise<void>;
  /**
   * Cluster mode: resolves `true` once the responses handed to the observers here include every
   * one any instance had handed its own when this was called, `false` past `timeoutMs`. Absent: they
   * always do (the loop runs here).
   */
  current?(timeoutMs: number): Promise<boolean>;
}

/** What {@link SyncHub.observe} hands a token's raw responses to. */
export interface ResponseObserver {
  /**
   * Each incremental response of the token's loop, in order (after the snapshot asked for), and
   * when its request was sent (`performance.now()`).
   */
  onResponse(response: SyncResponse, requestedAt: number): void;
  /** The loop ended for good (the token was rejected); nothing follows. */
  onEnded(): void;
  /**
   * The responses no longer follow on from the snapshot (cluster mode: a message missed, the
   * loop moved without its last responses): what was kept from them is no longer exact.
   */
  onLost(): void;
  /**
   * The token wrote, or read its rooms cold, through another instance (cluster mode): an answer
   * is exact again only from a response requested after now.
   */
  onTouched(): void;
}

/** An observation of a token's loop ({@link SyncHub.observe}). */
export interface LoopObservation {
  /** The snapshot asked for, taken between two syncs of the loop. */
  readonly snapshot: Promise<SyncResponse>;
  /** Makes the loop sync again now (after a write of the token's, to see it at once). */
  nudge(): void | Promise<void>;
  /** See {@link SyncFeed.current}; `true` at once where the loop always runs here. */
  current(timeoutMs: number): Promise<boolean>;
  /** Stops observing; the loop stops after the grace period if nothing else listens. */
  close(): void;
}

/** What a {@link SyncFeedFactory} gets to feed one token's listeners. */
export interface SyncFeedInit {
  readonly account: SyncAccount;
  /** Names the feed in log lines (never the token). */
  readonly loopId: number;
  /** Hands updates to the token's listeners, in order (`ended` last, once). */
  readonly deliver: SyncLoopOptions['onUpdates'];
  /** The rooms the token's streams here are about, for a feed that must report gaps in them. */
  readonly listenedRooms: () => Set<string>;
  /**
   * A sync loop of the token with the hub's settings, from a new or a stored position. Its raw
   * responses go to the hub's observers, or, when `onResponse` is given, to it, which passes them
   * on ({@link SyncFeedInit.respond}) when the feed sees fit.
   */
  readonly newLoop: (
    options: Pick<SyncLoopOptions, 'onUpdates' | 'resumeFrom' | 'onEstablished' | 'onResponse'>,
  ) => SyncLoop;
  /** Hands a raw response to the token's observers ({@link SyncHub.observe}), in order. */
  readonly respond: (response: SyncResponse, requestedAt: number) => void;
  /** Tells the token's observers that the responses no longer follow on ({@link ResponseObserver.onLost}). */
  readonly lost: () => void;
  /** Tells the token's observers of a write or cold read made elsewhere ({@link ResponseObserver.onTouched}). */
  readonly touched: () => void;
  /** Whether anything here observes the token's raw responses. */
  readonly observed: () => boolean;
}

export type SyncFeedFactory = (init: SyncFeedInit) => SyncFeed;

/** The default feed: the token's own sync loop in this process, delivering straight away. */
export const localFeed: SyncFeedFactory = (init) => init.newLoop({ onUpdates: init.deliver });

/** What the hub reports for metrics; called synchronously, must be cheap and must not throw. */
export interface SyncHubMetrics {
  /** A loop delivered a gap for one room (backfill stopped at its bound, or position lost). */
  gap(): void;
  /** A lagging stream lost `events` timeline events, a gap in their place. */
  eventsMissed(events: number): void;
}

/**
 * Where a stream notes the update its consumer took last, for the delivery latency metric: the
 * consumer's operation reads it when it hands the resolved item to its transport. One stream per
 * operation, and a stream hands out its next item only once the consumer asks for it, so the
 * last one taken is the one being sent.
 */
export interface DeliveryTrace {
  /**
   * When the sync response that carried the update was received (`performance.now()`); `NaN`
   * when nothing is pending (the item taken came from no response, or was already counted).
   */
  deliveryReceivedAt: number;
  /** The kind of the update taken last; `null` before any. */
  deliveryKind: string | null;
}

/** Whose updates: the token (the loop's key, sent upstream and nowhere else) and its user. */
export interface SyncAccount {
  readonly accessToken: string;
  /** Who the token belongs to, as the caller already found out (the loop does not ask again). */
  readonly userId: string;
  /** The operation that streams, noted when it takes each update (metrics); none by default. */
  readonly trace?: DeliveryTrace | undefined;
}

/** Which updates a stream carries: some kinds, of one room or of every room. */
export interface StreamSelector<K extends SyncUpdateKind> {
  readonly kinds: readonly K[];
  /** Only this room's updates; every room's when absent. */
  readonly roomId?: string;
  /** Only timeline events of these types (other kinds pass); every type when absent or null. */
  readonly eventTypes?: readonly string[] | null;
}

/** {@link SyncHub.stream} refused: the token already has as many live streams as it may. */
export class TooManyStreamsError extends Error {
  override readonly name = 'TooManyStreamsError';
  /** The most live streams a token may have ({@link SyncHubOptions.maxStreamsPerToken}). */
  readonly limit: number;

  constructor(limit: number) {
    super(`the token already has ${limit} live streams, the most it may`);
    this.limit = limit;
  }
}

/** One listener's registration; a new object per `subscribe`, so the same function may subscribe twice. */
interface Subscription {
  readonly listener: SyncListener;
  /** Called before each response's updates (streams check there whether their consumer lags). */
  readonly beforeResponse?: () => void;
  /** The room a stream is about, if only one. */
  readonly roomId?: string | undefined;
  /** Raw responses, for an observer ({@link SyncHub.observe}). */
  readonly onResponse?: ((response: SyncResponse, requestedAt: number) => void) | undefined;
  /** The responses stopped following on, for an observer ({@link ResponseObserver.onLost}). */
  readonly onLost?: (() => void) | undefined;
  /** A write or cold read elsewhere, for an observer ({@link ResponseObserver.onTouched}). */
  readonly onTouched?: (() => void) | undefined;
}

interface LoopEntry {
  readonly loopId: number;
  readonly feed: SyncFeed;
  readonly listeners: Set<Subscription>;
  graceTimer: ReturnType<typeof setTimeout> | null;
}

/**
 * The loops of every token, reference-counted by listeners: the first `subscribe` of a token
 * starts its loop, the last unsubscribe stops it after the grace period. Every loop's promise is
 * tracked until it settles, and `close()` stops and awaits them all.
 */
export class SyncHub {
  readonly #upstream: Upstream;
  readonly #pollTimeoutMs: number;
  readonly #gracePeriodMs: number;
  readonly #maxBackfillEvents: number;
  readonly #backoff: SyncBackoffPolicy;
  readonly #transport: SyncTransport | undefined;
  readonly #logger: UpstreamLogger | undefined;
  readonly #streamQueueLimit: number;
  readonly #maxStreamsPerToken: number;
  readonly #onIdle: (() => void) | undefined;
  readonly #metrics: SyncHubMetrics | undefined;
  readonly #feeds: SyncFeedFactory;
  /**
   * When the response that carried each update was received, while anyone may still take it
   * (only with metrics): shared by every stream the update goes to.
   */
  readonly #receivedAt = new WeakMap<SyncUpdate, number>();
  /** Live streams by token (the same key as `#loops`), from `stream()` until each lets go. */
  readonly #streams = new Map<string, number>();
  /**
   * Each token's room admissions ({@link SyncHub.admit}), by room ID: kept while the token has
   * live streams, so at most one per room it streams.
   */
  readonly #admissions = new Map<string, Map<string, Promise<void>>>();
  /** The loop serving each token. Keyed by the token itself, which never leaves this map. */
  readonly #loops = new Map<string, LoopEntry>();
  /** Every loop's `run()` promise until it settles, including loops stopped and winding down. */
  readonly #running = new Set<Promise<void>>();
  #nextLoopId = 1;
  #closed = false;

  constructor(options: SyncHubOptions) {
    this.#upstream = options.upstream;
    this.#pollTimeoutMs = options.pollTimeoutMs ?? 30_000;
    this.#gracePeriodMs = options.gracePeriodMs ?? 5000;
    this.#maxBackfillEvents = options.maxBackfillEvents ?? 500;
    this.#backoff = { ...defaultSyncBackoff, ...options.backoff };
    this.#transport = options.transport;
    this.#logger = options.logger;
    this.#streamQueueLimit = options.streamQueueLimit ?? 256;
    this.#maxStreamsPerToken = options.maxStreamsPerToken ?? 200;
    this.#onIdle = options.onIdle;
    this.#metrics = options.metrics;
    this.#feeds = options.feeds ?? localFeed;
    if (!Number.isInteger(this.#streamQueueLimit) || this.#streamQueueLimit < 2) {
      throw new RangeError('streamQueueLimit must be an integer of at least 2');
    }
  }

  /**
   * Delivers `accessToken`'s updates to `listener` from the next sync on, starting the token's
   * loop when it has none. Returns the unsubscribe function (calling it again does nothing).
   *
   * A new loop first establishes its position with an initial sync whose content is not
   * delivered; a listener joining a running loop gets the updates of the next response it
   * processes. A listener that throws is logged and keeps its subscription; the others are not
   * affected.
   */
  subscribe(account: SyncAccount, listener: SyncListener): () => void {
    return this.#subscribe(account, { listener });
  }

  #subscribe(account: SyncAccount, subscription: Subscription): () => void {
    if (this.#closed) {
      throw new Error('the sync hub is closed');
    }
    const { accessToken } = account;
    let entry = this.#loops.get(accessToken);
    if (entry === undefined) {
      entry = this.#startLoop(account);
    } else if (entry.graceTimer !== null) {
      clearTimeout(entry.graceTimer);
      entry.graceTimer = null;
    }
    entry.listeners.add(subscription);
    const subscribed = entry;
    let active = true;
    return () => {
      if (!active) {
        return;
      }
      active = false;
      subscribed.listeners.delete(subscription);
      // An entry already replaced (ended, stopped) has nothing left to schedule.
      if (subscribed.listeners.size === 0 && this.#loops.get(accessToken) === subscribed) {
        this.#scheduleStop(accessToken, subscribed);
      }
    };
  }

  /**
   * The account's updates that `selector` picks, as a stream, typed by kind: what a subscription
   * iterates. It counts against the token's live streams at once, and throws
   * {@link TooManyStreamsError} when there are as many as it may have; it subscribes on the
   * consumer's first `next`, so a stream given up before then (`return()`) never starts a loop.
   *
   * Its queue is bounded ({@link SyncHubOptions.streamQueueLimit}), a push never throws or waits,
   * and a consumer that falls behind meets a `gap`, newer snapshots, or `overflow`, never silent
   * loss. It ends when `signal` aborts or the consumer returns (either unsubscribes), and after
   * yielding `ended` (the token was revoked, always delivered) or `overflow`.
   */
  stream<K extends SyncUpdateKind>(
    account: SyncAccount,
    selector: StreamSelector<K>,
    signal: AbortSignal,
  ): UpdateStream<SyncUpdateOf<K>> {
    const release = this.#claimStream(account.accessToken);
    const onAbort = () => void stream.return();
    const stream = new UpdateStream<SyncUpdateOf<K>>({
      limit: this.#streamQueueLimit,
      gapFor: (roomId) => {
        const gap: SyncUpdate = { kind: 'gap', roomId };
        return isSelected(selector, gap) ? gap : null;
      },
      open: (sink) =>
        this.#subscribe(account, {
          listener: (update) => {
            if (update.kind === 'ended' || isSelected(selector, update)) {
              sink.push(update);
            }
          },
          beforeResponse: () => sink.beforeResponse(),
          roomId: selector.roomId,
        }),
      onClose: () => {
        signal.removeEventListener('abort', onAbort);
        release();
      },
      onTake: account.trace === undefined ? undefined : this.#noteTaken(account.trace),
      onMissed:
        this.#metrics === undefined ? undefined : (events) => this.#metrics?.eventsMissed(events),
    });
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) {
      onAbort();
    }
    return stream;
  }

  /**
   * Observes the account's loop (starting it when it has none, and keeping it running like a
   * listener): a snapshot made with `filter` between two of its syncs, then every response after
   * it, for state kept from the stream (src/sync/warm-views.ts). In cluster mode the loop may run
   * on another instance, which sends both through Redis.
   */
  observe(account: SyncAccount, filter: SyncFilter, observer: ResponseObserver): LoopObservation {
    const unsubscribe = this.#subscribe(account, {
      listener: (update) => {
        if (update.kind === 'ended') {
          observer.onEnded();
        }
      },
      onResponse: (response, requestedAt) => observer.onResponse(response, requestedAt),
      onLost: () => observer.onLost(),
      onTouched: () => observer.onTouched(),
    });
    const { feed } = this.#loops.get(account.accessToken) as LoopEntry;
    return {
      snapshot: feed.snapshot(filter),
      nudge: () => feed.nudge(),
      current: (timeoutMs) => feed.current?.(timeoutMs) ?? Promise.resolve(true),
      close: unsubscribe,
    };
  }

  /**
   * Runs `check` (may the account stream `roomId`? it rejects if not) once for all of the token's
   * streams of that room: a stream asking while an earlier check of the same token and room is
   * running or has passed shares its outcome, so that a client opening many subscriptions of one
   * room costs one check upstream. An outcome is kept while the token has live streams, and
   * forgotten when the check fails, when the viewer's own membership in the room changes and when
   * the token's last stream ends. Call it for a stream already claimed ({@link SyncHub.stream}).
   */
  admit(account: SyncAccount, roomId: string, check: () => Promise<void>): Promise<void> {
    const { accessToken } = account;
    let rooms = this.#admissions.get(accessToken);
    if (rooms === undefined) {
      rooms = new Map();
      this.#admissions.set(accessToken, rooms);
    }
    let admission = rooms.get(roomId);
    if (admission === undefined) {
      admission = check();
      const admitted = rooms;
      const settled = admission;
      rooms.set(roomId, admission);
      admission.catch(() => {
        if (admitted.get(roomId) === settled) {
          admitted.delete(roomId);
        }
      });
    }
    return admission;
  }

  /** How many listeners the token has here (streams, observers). */
  listenerCount(accessToken: string): number {
    return this.#loops.get(accessToken)?.listeners.size ?? 0;
  }

  /** Whether no loop runs, nor is winding down. */
  get idle(): boolean {
    return this.#running.size === 0 && this.#loops.size === 0;
  }

  /**
   * Live loops and listeners, for tests and metrics. `loops` counts every loop still running,
   * those in their grace period and those stopped but still winding down included.
   */
  get stats(): { loops: number; listeners: number } {
    let listeners = 0;
    for (const entry of this.#loops.values()) {
      listeners += entry.listeners.size;
    }
    return { loops: this.#running.size, listeners };
  }

  /** Stops every loop (aborting in-flight long-polls); listeners get nothing more. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of this.#loops.values()) {
      if (entry.graceTimer !== null) {
        clearTimeout(entry.graceTimer);
        entry.graceTimer = null;
      }
      entry.listeners.clear();
      entry.feed.stop();
    }
    this.#loops.clear();
    await Promise.all(this.#running);
  }

  /** Notes on `trace` the kind of each update its stream hands out, and when it was received. */
  #noteTaken(trace: DeliveryTrace): (item: SyncUpdate | StreamEnd) => void {
    return (item) => {
      trace.deliveryKind = item.kind;
      trace.deliveryReceivedAt =
        item.kind === 'overflow' ? Number.NaN : (this.#receivedAt.get(item) ?? Number.NaN);
    };
  }

  /** Counts one more live stream of the token; returns its release (calling it again does nothing). */
  #claimStream(accessToken: string): () => void {
    const live = this.#streams.get(accessToken) ?? 0;
    if (live >= this.#maxStreamsPerToken) {
      throw new TooManyStreamsError(this.#maxStreamsPerToken);
    }
    this.#streams.set(accessToken, live + 1);
    let released = false;
    return () => {
      if (released) {
        return;
      }
      released = true;
      const left = (this.#streams.get(accessToken) ?? 1) - 1;
      if (left === 0) {
        this.#streams.delete(accessToken);
        this.#admissions.delete(accessToken);
      } else {
        this.#streams.set(accessToken, left);
      }
    };
  }

  #startLoop(account: SyncAccount): LoopEntry {
    const { accessToken, userId } = account;
    const loopId = this.#nextLoopId++;
    const listeners = new Set<Subscription>();
    const respond = (response: SyncResponse, requestedAt: number) => {
      for (const subscription of [...listeners]) {
        subscription.onResponse?.(response, requestedAt);
      }
    };
    const feed = this.#feeds({
      account,
      loopId,
      deliver: (updates, receivedAt) => this.#fanOut(accessToken, entry, updates, receivedAt),
      listenedRooms: () =>
        new Set(
          [...listeners].flatMap((subscription) =>
            subscription.roomId === undefined ? [] : [subscription.roomId],
          ),
        ),
      newLoop: ({ onUpdates, resumeFrom, onEstablished, onResponse }) =>
        new SyncLoop({
          client: this.#upstream.client(accessToken),
          userId,
          pollTimeoutMs: this.#pollTimeoutMs,
          maxBackfillEvents: this.#maxBackfillEvents,
          backoff: this.#backoff,
          ...(this.#transport === undefined ? {} : { transport: this.#transport }),
          logger: this.#logger,
          loopId,
          onUpdates,
          resumeFrom,
          onEstablished,
          onResponse: onResponse ?? respond,
        }),
      respond,
      lost: () => {
        for (const subscription of [...listeners]) {
          subscription.onLost?.();
        }
      },
      touched: () => {
        for (const subscription of [...listeners]) {
          subscription.onTouched?.();
        }
      },
      observed: () => [...listeners].some((subscription) => subscription.onResponse !== undefined),
    });
    const entry: LoopEntry = { loopId, feed, listeners, graceTimer: null };
    this.#loops.set(accessToken, entry);
    // run() never rejects; the catch only keeps a bug in it from going unhandled.
    const running: Promise<void> = feed
      .run()
      .catch((error: unknown) => {
        this.#logger?.warn({ loopId, error: String(error) }, 'sync loop crashed');
      })
      .finally(() => {
        this.#running.delete(running);
        // A loop that ended by itself must not be found by the next subscribe.
        if (this.#loops.get(accessToken) === entry) {
          this.#remove(accessToken, entry);
        }
        if (this.#running.size === 0 && this.#loops.size === 0) {
          this.#onIdle?.();
        }
      });
    this.#running.add(running);
    return entry;
  }

  #scheduleStop(accessToken: string, entry: LoopEntry): void {
    if (entry.graceTimer !== null) {
      clearTimeout(entry.graceTimer);
    }
    entry.graceTimer = setTimeout(() => {
      entry.graceTimer = null;
      if (entry.listeners.size === 0 && this.#loops.get(accessToken) === entry) {
        this.#remove(accessToken, entry);
      }
    }, this.#gracePeriodMs);
  }

  /** Takes the entry out of the map and stops its loop (its promise stays tracked until settled). */
  #remove(accessToken: string, entry: LoopEntry): void {
    if (entry.graceTimer !== null) {
      clearTimeout(entry.graceTimer);
      entry.graceTimer = null;
    }
    if (this.#loops.get(accessToken) === entry) {
      this.#loops.delete(accessToken);
    }
    entry.listeners.clear();
    entry.feed.stop();
  }

  #fanOut(
    accessToken: string,
    entry: LoopEntry,
    updates: readonly SyncUpdate[],
    receivedAt: number,
  ): void {
    // Taken once per response: a listener that subscribes while being called starts with the
    // next response. One that unsubscribes (itself or another) is skipped from then on.
    const subscriptions = [...entry.listeners];
    const ending = updates.some((update) => update.kind === 'ended');
    if (ending && this.#loops.get(accessToken) === entry) {
      // Out of the map before anyone hears `ended`: a listener subscribing again in response
      // gets a new loop rather than this finished one.
      this.#loops.delete(accessToken);
    }
    for (const update of updates) {
      if (this.#metrics !== undefined) {
        this.#receivedAt.set(update, receivedAt);
        if (update.kind === 'gap') {
          this.#metrics.gap();
        }
      }
      if (update.kind === 'membership') {
        // Joined, left, banned: what was admitted before may no longer hold, or now holds.
        this.#admissions.get(accessToken)?.delete(update.roomId);
      } else if (update.kind === 'ended') {
        this.#admissions.delete(accessToken);
      }
    }
    for (const subscription of subscriptions) {
      subscription.beforeResponse?.();
    }
    for (const update of updates) {
      for (const subscription of subscriptions) {
        if (!entry.listeners.has(subscription)) {
          continue;
        }
        try {
          subscription.listener(update);
        } catch (error) {
          this.#logger?.warn(
            { loopId: entry.loopId, kind: update.kind, error: String(error) },
            'a sync listener threw; the others are not affected',
          );
        }
      }
    }
    if (ending) {
      // Nothing follows `ended`: its listeners are dropped.
      this.#remove(accessToken, entry);
    }
  }
}

function isSelected<K extends SyncUpdateKind>(
  selector: StreamSelector<K>,
  update: SyncUpdate,
): update is SyncUpdateOf<K> {
  const { kinds, roomId, eventTypes } = selector;
  return (
    kinds.some((kind) => kind === update.kind) &&
    (roomId === undefined || ('roomId' in update && update.roomId === roomId)) &&
    (update.kind !== 'timeline' || !eventTypes || eventTypes.includes(update.event.type))
  );
}
