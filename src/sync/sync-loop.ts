/**
 * One user's long-poll `/sync` loop: establishes the position, long-polls from it, fills gaps,
 * backs off on failures and ends when the token is rejected. The {@link SyncHub} owns the loops
 * and fans their updates out to listeners.
 */
import { MatrixApiError } from '../matrix/errors.ts';
import type { UpstreamLogger } from '../matrix/http.ts';
import type { MatrixClient } from '../matrix/matrix-client.ts';
import { abortableSleep } from '../matrix/policy.ts';
import { getMessages, type MessagesOptions, type MessagesPage } from '../matrix/room-events.ts';
import { type SyncFilter, type SyncOptions, type SyncResponse, sync } from '../matrix/sync.ts';
import { backfillRoom, isPermanentBackfillFailure } from './backfill.ts';
import { isTokenRejected, type SyncBackoffPolicy, syncRetryDelayMs } from './sync-backoff.ts';
import type { SyncUpdate } from './sync-events.ts';
import { SyncMemory, type SyncPosition } from './sync-memory.ts';
import { type BackfillResult, planBackfills, toSyncUpdates } from './sync-updates.ts';

/** The upstream calls a loop makes; tests script them. */
export interface SyncTransport {
  sync(client: MatrixClient, options: SyncOptions): Promise<SyncResponse>;
  getMessages(
    client: MatrixClient,
    roomId: string,
    options: MessagesOptions,
  ): Promise<MessagesPage>;
}

/** The real endpoint functions of `src/matrix`. */
export const matrixSyncTransport: SyncTransport = Object.freeze({ sync, getMessages });

/** Filter part that lets nothing through. */
const nothing = { notTypes: ['*'] };

/**
 * The filter of the initial sync, which only establishes the position (see
 * {@link SyncMemory.establish}): each joined room's last timeline event, invites (always sent)
 * and `next_batch`. No state, ephemeral events, presence or account data.
 */
export const INITIAL_SYNC_FILTER: SyncFilter = Object.freeze({
  presence: nothing,
  accountData: nothing,
  room: { timeline: { limit: 1 }, state: nothing, ephemeral: nothing, accountData: nothing },
});

/**
 * The most timeline events one long-poll brings per room; a room with more news comes back
 * `limited` and the rest is backfilled from `/messages`.
 */
export const LONG_POLL_TIMELINE_LIMIT = 50;

/**
 * The filter of every long-poll: what the updates need and nothing else. The whole timeline
 * (state events included); the `state` block, not lazy-loaded, so that it holds exactly the state
 * that changed inside a gap (lazy loading would add unchanged member events of new senders);
 * `m.typing`; `m.receipt` and the room account data `m.tag`; of global account data only
 * `m.direct` (a warm room view's `isDirect`, src/sync/warm-views.ts); no presence.
 * Invites and the rooms the viewer left come regardless of the filter (Synapse lists a room left
 * since `since` without `include_leave`).
 *
 * Receipts are there for the unread counts: every joined room carries its counts, but Synapse
 * 1.160 lists a room only when something else of it passes the filter (its `JoinedSyncResult`
 * ignores the counts), so a read that lowers them (the viewer's receipt, from any client) would go
 * unseen. Receipts of other members come too, and are read for nothing.
 */
export const LONG_POLL_FILTER: SyncFilter = Object.freeze({
  presence: nothing,
  accountData: { types: ['m.direct'] },
  room: {
    timeline: { limit: LONG_POLL_TIMELINE_LIMIT },
    ephemeral: { types: ['m.typing', 'm.receipt'] },
    accountData: { types: ['m.tag'] },
  },
});

/** A {@link SyncLoop.snapshot} waiting for the loop's next turn. */
interface SnapshotRequest {
  filter: SyncFilter;
  resolve: (snapshot: SyncResponse) => void;
  reject: (error: unknown) => void;
}

/** Where a loop is; `as const` members rather than an enum (type stripping). */
export const SyncLoopState = {
  /** Establishing the position (the initial sync). */
  Starting: 'starting',
  /** Long-polling. */
  Syncing: 'syncing',
  /** The last request failed; waiting out the backoff, then catching up with `timeout=0`. */
  Reconnecting: 'reconnecting',
  /** Stopped by its owner. */
  Stopped: 'stopped',
  /** Ended by the homeserver rejecting the token; it delivered `ended`. */
  Ended: 'ended',
} as const;
export type SyncLoopState = (typeof SyncLoopState)[keyof typeof SyncLoopState];

export interface SyncLoopOptions {
  /** Bound to the user's token. */
  client: MatrixClient;
  /** Whose token it is, as the subscriber found out: the loop does not ask again. */
  userId: string;
  /** The `/sync` `timeout` of each long-poll. */
  pollTimeoutMs: number;
  /** The most events backfilled for one room after a `limited` sync before a `gap`. */
  maxBackfillEvents: number;
  backoff: SyncBackoffPolicy;
  /** @default {@link matrixSyncTransport} */
  transport?: SyncTransport;
  logger?: UpstreamLogger | undefined;
  /** Names the loop in log lines, which never carry the token. */
  loopId: number;
  /**
   * Receives each response's updates, synchronously and in order, after the loop has stored the
   * response's `next_batch`; last of all, once, `ended` when the token is rejected. `receivedAt`
   * is when the response that carried them had been received and parsed (`performance.now()`),
   * from which the server measures how long its delivery takes.
   */
  onUpdates: (updates: readonly SyncUpdate[], receivedAt: number) => void;
  /** @default {@link LONG_POLL_TIMELINE_LIMIT} */
  timelineLimit?: number;
  /**
   * Continue from where another loop of the same token stopped (its {@link SyncLoop.position}),
   * delivering what happened since, instead of establishing a new position.
   */
  resumeFrom?: SyncPosition | undefined;
  /**
   * Told each time an initial sync has established a new position (nothing is delivered then), so
   * that an owner sharing the loop can store it before any update.
   */
  onEstablished?: (() => void) | undefined;
  /**
   * Told of every incremental response after its position is stored, in order, before its
   * updates go out: what a warm room view (src/sync/warm-views.ts) applies to its snapshot.
   * `requestedAt`: when its request was sent (`performance.now()`), so that a write finished
   * before then is known to be in it.
   */
  onResponse?: ((response: SyncResponse, requestedAt: number) => void) | undefined;
  /** @default Math.random */
  random?: () => number;
}

/**
 * One user's loop. `run()` establishes the position with an initial sync whose content is not
 * delivered, then long-polls from it, one request at a time:
 * each response is backfilled where `limited`, translated into updates, its `next_batch` stored,
 * and only then handed to `onUpdates`. Failures back off and retry from the same position;
 * a rejected token ends the loop with `ended`.
 */
export class SyncLoop {
  readonly #client: MatrixClient;
  readonly #options: SyncLoopOptions;
  readonly #transport: SyncTransport;
  readonly #longPollFilter: SyncFilter;
  readonly #abort = new AbortController();
  #state: SyncLoopState = SyncLoopState.Starting;
  readonly #memory: SyncMemory;
  #failures = 0;
  /** After a failure the next sync uses `timeout=0`, to catch up before long-polling again. */
  #catchingUp = false;
  /** The homeserver refused `since`: the next initial sync re-establishes and reports gaps. */
  #reestablishing = false;
  /** Snapshots asked for ({@link SyncLoop.snapshot}), taken at the loop's next turn. */
  readonly #snapshots: SnapshotRequest[] = [];
  /** Ends the long-poll in flight early (not the loop): see {@link SyncLoop.nudge}. */
  #interrupt: AbortController | null = null;
  /** Nudged since the last sync was sent: the next one uses `timeout=0`. */
  #nudged = false;
  /** Which request is (or was last) in flight: only a sync from `since` can refuse `since`. */
  #lastRequest: 'initial' | 'sync' | 'backfill' = 'initial';

  constructor(options: SyncLoopOptions) {
    this.#client = options.client;
    this.#options = options;
    this.#transport = options.transport ?? matrixSyncTransport;
    this.#memory = new SyncMemory(options.userId);
    if (options.resumeFrom !== undefined) {
      this.#memory.resume(options.resumeFrom);
      // Whatever happened while no loop ran comes at once, before long-polling.
      this.#catchingUp = true;
    }
    const timelineLimit = options.timelineLimit ?? LONG_POLL_TIMELINE_LIMIT;
    this.#longPollFilter = {
      ...LONG_POLL_FILTER,
      room: { ...LONG_POLL_FILTER.room, timeline: { limit: timelineLimit } },
    };
  }

  /** Where the loop is now, for logs and tests. */
  get state(): SyncLoopState {
    return this.#state;
  }

  /**
   * Where the loop stands, for another loop to resume from; `null` before a position is
   * established. Inside `onUpdates`, it is the position right after the updates handed over.
   */
  position(): SyncPosition | null {
    return this.#memory.position();
  }

  /** Consecutive failed requests (0 while all is well). */
  get failures(): number {
    return this.#failures;
  }

  /**
   * Runs until {@link stop} or until the token is rejected. Never rejects: every failure is
   * logged and retried, and the owner awaits the promise to know the loop is gone.
   */
  async run(): Promise<void> {
    const { logger, loopId } = this.#options;
    logger?.debug({ loopId, pollTimeoutMs: this.#options.pollTimeoutMs }, 'sync loop started');
    try {
      await this.#loop();
    } finally {
      if (this.#state !== SyncLoopState.Ended) {
        this.#state = SyncLoopState.Stopped;
      }
      logger?.debug({ loopId, state: this.#state }, 'sync loop stopped');
    }
  }

  /** Stops the loop: aborts the request in flight and the backoff wait. Idempotent. */
  stop(): void {
    this.#abort.abort(new DOMException('sync loop stopped', 'AbortError'));
    for (const waiting of this.#snapshots.splice(0)) {
      waiting.reject(new DOMException('sync loop stopped', 'AbortError'));
    }
  }

  /**
   * Ends the long-poll in flight early (what it would have brought comes with the next sync) so
   * that the loop syncs again now, with `timeout=0`: after a write, the stream catches up with it
   * in one round trip rather than at the long-poll's next wake-up.
   */
  nudge(): void {
    this.#nudged = true;
    this.#interrupt?.abort();
  }

  /**
   * An initial sync (no `since`) made with `filter` at the loop's next turn, between two of its
   * syncs: every response the loop processes after it is newer, so whoever keeps state from the
   * snapshot and then applies `onResponse` stays exact. A loop without a position yet takes the
   * snapshot as its initial sync. Rejects when the loop stops first or the request fails (the
   * loop itself goes on).
   */
  snapshot(filter: SyncFilter): Promise<SyncResponse> {
    if (this.#abort.signal.aborted) {
      return Promise.reject(new DOMException('sync loop stopped', 'AbortError'));
    }
    return new Promise((resolve, reject) => {
      this.#snapshots.push({ filter, resolve, reject });
      this.nudge();
    });
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal;
    const { logger, loopId } = this.#options;
    while (!signal.aborted) {
      try {
        await this.#step(signal);
        if (this.#failures > 0) {
          logger?.debug({ loopId, failures: this.#failures }, 'sync recovered');
        }
        this.#failures = 0;
      } catch (error) {
        if (signal.aborted) {
          return;
        }
        if (this.#interrupt?.signal.aborted) {
          // Nudged: no failure, the next turn starts now.
          this.#interrupt = null;
          continue;
        }
        if (isTokenRejected(error)) {
          this.#state = SyncLoopState.Ended;
          logger?.warn(
            { loopId, errcode: error.errcode, status: error.status },
            'sync loop ended: the homeserver rejected the access token',
          );
          this.#deliver([{ kind: 'ended', error }], performance.now());
          return;
        }
        if (
          error instanceof MatrixApiError &&
          error.status === 400 &&
          this.#lastRequest === 'sync'
        ) {
          // A `since` the homeserver no longer accepts would fail forever: start again from
          // the current position and report the rooms' gaps.
          logger?.warn(
            { loopId, errcode: error.errcode },
            'sync position refused, establishing a new one',
          );
          this.#memory.since = null;
          this.#reestablishing = true;
        }
        this.#failures += 1;
        this.#catchingUp = true;
        this.#state = SyncLoopState.Reconnecting;
        const delayMs = syncRetryDelayMs(
          error,
          this.#failures,
          this.#options.backoff,
          this.#options.random,
        );
        logger?.warn(
          { loopId, failures: this.#failures, delayMs, error: describe(error) },
          'sync failed, backing off',
        );
        // A stop during the wait ends it early; the loop's condition then sees the abort.
        await abortableSleep(delayMs, signal).catch(() => {});
      }
    }
  }

  async #step(signal: AbortSignal): Promise<void> {
    const transport = this.#transport;
    const client = this.#client;
    const memory = this.#memory;
    const snapshots = this.#snapshots.splice(0);
    if (snapshots.length > 0) {
      // The nudge that asked for it makes the next sync go at once: the first response past the
      // snapshot, which whoever keeps state from it waits for (warm-views.ts).
      const snapshot = await this.#takeSnapshot(snapshots, signal);
      if (snapshot === null || memory.since !== null) {
        return;
      }
      // No position yet: the snapshot is the initial sync.
      this.#establish(snapshot);
      return;
    }
    if (memory.since === null) {
      this.#lastRequest = 'initial';
      const initial = await transport.sync(client, {
        filter: INITIAL_SYNC_FILTER,
        timeoutMs: 0,
        setPresence: 'offline',
        // Synapse answers an identical initial sync from its response cache for two minutes:
        // a loop restarted within that time would start from a stale position and deliver
        // what happened before its subscribers subscribed.
        fresh: true,
        signal,
      });
      this.#establish(initial);
      return;
    }

    this.#lastRequest = 'sync';
    const catchUp = this.#catchingUp || this.#nudged;
    this.#nudged = false;
    this.#interrupt = new AbortController();
    const requestedAt = performance.now();
    const response = await transport.sync(client, {
      filter: this.#longPollFilter,
      since: memory.since,
      timeoutMs: catchUp ? 0 : this.#options.pollTimeoutMs,
      setPresence: 'offline',
      signal: AbortSignal.any([signal, this.#interrupt.signal]),
    });
    this.#interrupt = null;
    await this.#respond(response, requestedAt, signal);
  }

  /**
   * Takes one snapshot for everyone who asked with the same filter (the others wait for the next
   * turn); `null` when it failed, which only they hear of, unless the token was rejected, which
   * ends the loop as any sync would.
   */
  async #takeSnapshot(
    waiting: SnapshotRequest[],
    signal: AbortSignal,
  ): Promise<SyncResponse | null> {
    const filter = waiting[0]?.filter;
    const now = waiting.filter((entry) => entry.filter === filter);
    this.#snapshots.unshift(...waiting.filter((entry) => entry.filter !== filter));
    this.#lastRequest = 'initial';
    try {
      const snapshot = await this.#transport.sync(this.#client, {
        ...(filter === undefined ? {} : { filter }),
        timeoutMs: 0,
        setPresence: 'offline',
        fresh: true,
        signal,
      });
      for (const entry of now) {
        entry.resolve(snapshot);
      }
      return snapshot;
    } catch (error) {
      for (const entry of now) {
        entry.reject(error);
      }
      if (isTokenRejected(error) || signal.aborted) {
        throw error;
      }
      return null;
    }
  }

  /** Takes the position from an initial sync (or a snapshot taken as one). */
  #establish(initial: SyncResponse): void {
    const memory = this.#memory;
    const receivedAt = performance.now();
    const before = [...memory.joined];
    memory.establish(initial);
    this.#state = SyncLoopState.Syncing;
    this.#catchingUp = false;
    this.#options.onEstablished?.();
    this.#options.logger?.debug(
      { loopId: this.#options.loopId, rooms: memory.joined.size },
      'sync position established',
    );
    if (this.#reestablishing) {
      this.#reestablishing = false;
      const rooms = new Set([...before, ...memory.joined]);
      this.#deliver(
        [...rooms].map((roomId): SyncUpdate => ({ kind: 'gap', roomId })),
        receivedAt,
      );
    }
  }

  /** Handles one incremental response: backfill, updates, position, then delivery. */
  async #respond(response: SyncResponse, requestedAt: number, signal: AbortSignal): Promise<void> {
    const memory = this.#memory;
    // Delivery latency starts here: the response is in and parsed (backfill counts as delivery).
    const receivedAt = performance.now();
    this.#lastRequest = 'backfill';
    const backfills = await this.#backfill(response, memory, signal);
    let updates: SyncUpdate[];
    try {
      updates = toSyncUpdates(response, memory, backfills);
    } catch (error) {
      // A response we cannot read must not be fetched again and again: skip it, saying which
      // rooms may have lost events.
      this.#options.logger?.warn(
        { loopId: this.#options.loopId, error: describe(error) },
        'sync response could not be translated; its rooms get a gap',
      );
      updates = [...response.join.keys(), ...response.leave.keys()].map((roomId) => ({
        kind: 'gap',
        roomId,
      }));
    }
    // Stored before fan-out: whatever a listener does, the next sync starts after this one.
    memory.since = response.nextBatch;
    this.#catchingUp = false;
    this.#state = SyncLoopState.Syncing;
    try {
      this.#options.onResponse?.(response, requestedAt);
    } catch (error) {
      this.#options.logger?.warn(
        { loopId: this.#options.loopId, error: describe(error) },
        'a sync response observer threw',
      );
    }
    this.#deliver(updates, receivedAt);
  }

  async #backfill(
    response: SyncResponse,
    memory: SyncMemory,
    signal: AbortSignal,
  ): Promise<Map<string, BackfillResult>> {
    const results = new Map<string, BackfillResult>();
    const { logger, loopId, maxBackfillEvents } = this.#options;
    for (const request of planBackfills(response, memory)) {
      let result: BackfillResult;
      try {
        result = await backfillRoom(request, maxBackfillEvents, (roomId, from, limit) =>
          this.#transport.getMessages(this.#client, roomId, { from, dir: 'b', limit, signal }),
        );
      } catch (error) {
        if (!isPermanentBackfillFailure(error)) {
          throw error;
        }
        logger?.warn(
          { loopId, roomId: request.roomId, error: describe(error) },
          'backfill refused; the room gets a gap',
        );
        result = { events: [], complete: false };
      }
      logger?.debug(
        { loopId, roomId: request.roomId, events: result.events.length, complete: result.complete },
        'backfilled a limited timeline',
      );
      results.set(request.roomId, result);
    }
    return results;
  }

  #deliver(updates: readonly SyncUpdate[], receivedAt: number): void {
    // A stopped loop's owner has let go of it: nothing it still had in hand goes out.
    if (updates.length === 0 || this.#abort.signal.aborted) {
      return;
    }
    for (const update of updates) {
      if (update.kind === 'gap') {
        this.#options.logger?.warn(
          { loopId: this.#options.loopId, roomId: update.roomId },
          'sync gap: events of this room may be missing',
        );
      }
    }
    try {
      this.#options.onUpdates(updates, receivedAt);
    } catch (error) {
      // The owner isolates its listeners; this only keeps an owner's bug from being taken for a
      // failed sync (the position has moved on already either way).
      this.#options.logger?.warn(
        { loopId: this.#options.loopId, error: describe(error) },
        'delivering sync updates threw',
      );
    }
  }
}

/** An error for a log line: its class and message (never a request's headers). */
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
