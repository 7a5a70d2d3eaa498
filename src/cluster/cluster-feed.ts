/**
 * Cluster mode's feed of one token (a {@link SyncFeed} of the SyncHub): however many instances
 * have listeners for the token, one of them runs its sync loop and the others receive its updates
 * through Redis.
 *
 * While it runs, a feed notes its instance's interest and, every third of the lease, either renews
 * the lease it holds or tries to take it (at once when the holder says it `released` the loop).
 * The holder delivers each response to its own listeners, then stores its position and publishes
 * the updates in one script (src/cluster/cluster-redis.ts); the others deliver what they receive.
 * A takeover resumes from the stored position, so every instance goes on with the message after
 * the last one published: nothing twice, nothing missing. Messages are numbered within a lineage
 * (`epoch`); a receiver that finds one missing (Redis restarted, its subscription dropped), or a
 * new lineage (a loop that had to start afresh), tells its listeners with a `gap` for each room
 * they follow. Repeated timeline events are dropped by ID in any case.
 */
import { randomUUID } from 'node:crypto';
import type { UpstreamLogger } from '../matrix/http.ts';
import { RecentIds } from '../sync/recent-ids.ts';
import type { SyncUpdate } from '../sync/sync-events.ts';
import type { SyncFeed, SyncFeedFactory, SyncFeedInit } from '../sync/sync-hub.ts';
import type { SyncLoop } from '../sync/sync-loop.ts';
import type { SyncPosition } from '../sync/sync-memory.ts';
import { type ClusterRedis, type TokenKeys, tokenKeys } from './cluster-redis.ts';
import type { TokenKey } from './token-key.ts';
import {
  type ClusterMessage,
  fromWire,
  parseClusterMessage,
  toWire,
  type WireUpdate,
} from './update-wire.ts';

/** Timeline event IDs remembered per room to drop repeats (a loop resumed twice, a replay). */
const RECENT_PER_ROOM = 64;

/** What the cluster feeds report (src/server/metrics.ts); each call must be cheap. */
export interface ClusterFeedMetrics {
  /** This instance started a token's loop: `resumed` from a stored position, or afresh. */
  loopTaken(resumed: boolean): void;
  /** A loop this instance ran has stopped (handed over, lost, or ended). */
  loopLeft(): void;
  /** A publish failed (Redis away): its rooms get a gap on the other instances. */
  publishFailed(): void;
  /** A receiver found messages missing and delivered gaps instead. */
  messagesMissed(): void;
}

export interface ClusterFeedOptions {
  redis: ClusterRedis;
  /** Names tokens in Redis (never the token itself). */
  tokenKey: TokenKey;
  logger?: UpstreamLogger | undefined;
  metrics?: ClusterFeedMetrics | undefined;
}

/** The hub's feeds in cluster mode. */
export function clusterFeeds(options: ClusterFeedOptions): SyncFeedFactory {
  return (init) => new ClusterFeed(options, init);
}

class ClusterFeed implements SyncFeed {
  readonly #redis: ClusterRedis;
  readonly #init: SyncFeedInit;
  readonly #keys: TokenKeys;
  readonly #logger: UpstreamLogger | undefined;
  readonly #metrics: ClusterFeedMetrics | undefined;
  #stopped = false;
  /** The loop's `ended` went out: nothing follows, the position is dropped. */
  #ended = false;
  #wake: (() => void) | null = null;
  /** The loop this instance runs while it holds the lease, and its promise. */
  #loop: { loop: SyncLoop; done: Promise<void>; epoch: string } | null = null;
  /**
   * Loops that lost their lease: what they still had to publish is dropped (the new holder
   * resumed before it). A loop stopped for any other reason publishes all it delivered.
   */
  readonly #deposed = new WeakSet<SyncLoop>();
  /** The holder's count of published messages. */
  #published = 0;
  /** The last message delivered here: its lineage and number. */
  #epoch: string | null = null;
  #seq = 0;
  /** Rooms whose updates could not be published: the next message starts with their gaps. */
  readonly #unpublished = new Set<string>();
  /** Publishes go out one after another, in order. */
  #publishing: Promise<void> = Promise.resolve();
  /** Rooms seen in updates here, for gaps. */
  readonly #rooms = new Set<string>();
  readonly #recent = new Map<string, RecentIds>();

  constructor(options: ClusterFeedOptions, init: SyncFeedInit) {
    this.#redis = options.redis;
    this.#init = init;
    this.#keys = tokenKeys(options.tokenKey(init.account.accessToken));
    this.#logger = options.logger;
    this.#metrics = options.metrics;
  }

  async run(): Promise<void> {
    const onMessage = (event: CustomEvent) => this.#receive(event.detail);
    this.#redis.events.addEventListener(this.#keys.channel, onMessage);
    const interval = Math.max(50, Math.floor(this.#redis.leaseMs / 3));
    try {
      while (!this.#stopped && !this.#ended) {
        await this.#tick();
        await this.#sleep(interval);
      }
    } finally {
      this.#redis.events.removeEventListener(this.#keys.channel, onMessage);
      await this.#stopLoop();
      await this.#publishing;
      const released: ClusterMessage = { kind: 'released', from: this.#redis.self };
      await this.#redis
        .leave(this.#keys, JSON.stringify(released), this.#ended)
        .catch((error: unknown) => this.#warn(error, 'could not leave the token in Redis'));
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }

  /** One round: note the interest, then renew the lease held or try to take it. */
  async #tick(): Promise<void> {
    try {
      // Interest lasts two rounds past the next one: a late round does not drop it.
      const others = await this.#redis.noteInterest(this.#keys, this.#redis.leaseMs * 2);
      if (this.#loop !== null) {
        if (!(await this.#redis.renew(this.#keys))) {
          this.#logger?.warn({ loopId: this.#init.loopId }, 'sync lease lost to another instance');
          this.#deposed.add(this.#loop.loop);
          await this.#stopLoop();
        }
      } else if (!this.#stopped && (await this.#redis.acquire(this.#keys))) {
        await this.#startLoop(others > 0);
      }
    } catch (error) {
      // Redis is away: a holder goes on delivering here, everyone tries again next round.
      this.#warn(error, 'cluster round failed');
    }
  }

  /**
   * Runs the token's loop here: from the stored position when someone is owed its continuation
   * (another instance's listeners, or this one's, which received from it), else afresh: a position
   * nobody follows any more (all instances died) would replay old news to new subscribers.
   */
  async #startLoop(othersInterested: boolean): Promise<void> {
    const owed = othersInterested || this.#epoch !== null;
    const stored = owed ? await this.#redis.readPosition<SyncPosition>(this.#keys) : null;
    if (this.#stopped) {
      return;
    }
    const epoch = stored?.epoch ?? randomUUID();
    this.#published = stored?.seq ?? 0;
    // Taking over where the last message left off; anything this instance missed before that,
    // or a new lineage after one it followed, is a gap.
    const gaps = this.#track(epoch, this.#published, stored === null) ?? [];
    for (const roomId of stored?.position.joined ?? []) {
      this.#rooms.add(roomId);
    }
    if (gaps.length > 0) {
      this.#init.deliver(gaps, performance.now());
    }
    this.#metrics?.loopTaken(stored !== null);
    this.#logger?.debug(
      { loopId: this.#init.loopId, resumed: stored !== null },
      'this instance runs the sync loop',
    );
    const loop = this.#init.newLoop({
      resumeFrom: stored?.position,
      onEstablished: () => this.#publish(loop, epoch, []),
      onUpdates: (updates, receivedAt) => {
        this.#deliver(updates, receivedAt);
        this.#publish(loop, epoch, updates);
      },
    });
    const done = loop.run().finally(() => {
      this.#metrics?.loopLeft();
      if (this.#loop?.loop === loop) {
        this.#loop = null;
      }
      this.#wake?.();
    });
    this.#loop = { loop, done, epoch };
  }

  async #stopLoop(): Promise<void> {
    const running = this.#loop;
    if (running !== null) {
      this.#loop = null;
      running.loop.stop();
      await running.done;
    }
  }

  /**
   * Stores the loop's position and publishes `updates` (none: the position only), after those
   * before; a failure (Redis away) leaves their rooms to start the next message with a gap.
   */
  #publish(loop: SyncLoop, epoch: string, updates: readonly SyncUpdate[]): void {
    const position = loop.position();
    if (updates.some((update) => update.kind === 'ended')) {
      this.#ended = true;
      this.#wake?.();
    }
    this.#publishing = this.#publishing.then(async () => {
      if (this.#deposed.has(loop) || position === null) {
        return;
      }
      const wire: WireUpdate[] = [
        ...[...this.#unpublished].map((roomId): WireUpdate => ({ kind: 'gap', roomId })),
        ...updates.map(toWire),
      ];
      const seq = wire.length > 0 ? this.#published + 1 : this.#published;
      const message: ClusterMessage = {
        kind: 'updates',
        from: this.#redis.self,
        epoch,
        seq,
        updates: wire,
      };
      try {
        const held = await this.#redis.publish(
          this.#keys,
          wire.length > 0 ? JSON.stringify(message) : '',
          JSON.stringify({ epoch, seq, position }),
        );
        if (!held) {
          this.#logger?.warn({ loopId: this.#init.loopId }, 'sync lease lost while publishing');
          this.#deposed.add(loop);
          if (this.#loop?.loop === loop) {
            void this.#stopLoop();
          }
          return;
        }
        this.#published = seq;
        this.#epoch = epoch;
        this.#seq = seq;
        this.#unpublished.clear();
      } catch (error) {
        this.#metrics?.publishFailed();
        for (const update of updates) {
          if ('roomId' in update) {
            this.#unpublished.add(update.roomId);
          }
        }
        this.#warn(error, 'could not publish sync updates; other instances get a gap');
      }
    });
  }

  /** A message from the channel: another holder's updates, or word that the loop is free. */
  #receive(detail: unknown): void {
    const message = parseClusterMessage(detail);
    if (message === null || message.from === this.#redis.self || this.#stopped) {
      return;
    }
    if (message.kind === 'released') {
      if (this.#loop === null) {
        this.#wake?.();
      }
      return;
    }
    // Running the loop here, this instance delivers its own; another sender is a holder that
    // lost the lease and has not noticed yet.
    if (this.#loop !== null) {
      return;
    }
    const receivedAt = performance.now();
    const gaps = this.#track(message.epoch, message.seq, false);
    if (gaps === null) {
      return;
    }
    this.#deliver([...gaps, ...message.updates.map(fromWire)], receivedAt);
  }

  /**
   * Notes message `seq` of `epoch` as delivered here. Returns `null` for one delivered already,
   * else the gaps to deliver first: one per room followed, when messages were missed (a number
   * skipped, a new lineage after another one, or a fresh start after one).
   */
  #track(epoch: string, seq: number, fresh: boolean): SyncUpdate[] | null {
    const first = this.#epoch === null;
    const sameEpoch = this.#epoch === epoch;
    if (sameEpoch && seq <= this.#seq && !fresh) {
      return null;
    }
    const missed = !first && (!sameEpoch || fresh || seq > this.#seq + 1);
    this.#epoch = epoch;
    this.#seq = seq;
    if (!missed) {
      return [];
    }
    this.#metrics?.messagesMissed();
    const rooms = new Set([...this.#rooms, ...this.#init.listenedRooms()]);
    return [...rooms].map((roomId): SyncUpdate => ({ kind: 'gap', roomId }));
  }

  /** Delivers updates here, each timeline event once whatever path brought it. */
  #deliver(updates: readonly SyncUpdate[], receivedAt: number): void {
    const fresh = updates.filter((update) => {
      if (!('roomId' in update)) {
        return true;
      }
      this.#rooms.add(update.roomId);
      if (update.kind !== 'timeline') {
        return true;
      }
      let recent = this.#recent.get(update.roomId);
      if (recent === undefined) {
        recent = new RecentIds(RECENT_PER_ROOM);
        this.#recent.set(update.roomId, recent);
      }
      if (recent.has(update.event.eventId)) {
        return false;
      }
      recent.remember(update.event.eventId);
      return true;
    });
    if (updates.some((update) => update.kind === 'ended')) {
      this.#ended = true;
      this.#wake?.();
    }
    if (fresh.length > 0) {
      this.#init.deliver(fresh, receivedAt);
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped || this.#ended) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
  }

  #warn(error: unknown, message: string): void {
    this.#logger?.warn(
      {
        loopId: this.#init.loopId,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      },
      message,
    );
  }
}
