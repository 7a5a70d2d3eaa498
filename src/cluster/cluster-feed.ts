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
 *
 * Warm room views (src/sync/warm-views.ts) work on any instance. As the holder, a feed answers
 * snapshot requests on the channel (taken between two syncs, published in line with its
 * messages), adds each raw response to its message while another instance keeps a view (noted
 * in Redis with its interest), hands a response to its own views only once it is stored, and
 * names in each message the nudges (writes, cold reads) received before its response was
 * requested. Elsewhere, a {@link ViewFollower} (src/cluster/view-follower.ts) keeps the views.
 */
import { randomUUID } from 'node:crypto';
import type { UpstreamLogger } from '../matrix/http.ts';
import type { SyncFilter, SyncResponse } from '../matrix/sync.ts';
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
  responseToWire,
  toWire,
  type WireUpdate,
} from './update-wire.ts';
import { ViewFollower } from './view-follower.ts';

/** Timeline event IDs remembered per room to drop repeats (a loop resumed twice, a replay). */
const RECENT_PER_ROOM = 64;
/** Nudges received as the holder, until a response names them. */
const NUDGES_KEPT = 64;
/**
 * How long a write or cold read waits for its nudge to be in Redis (so that a read of the same user through
 * another instance right after it knows to wait): Redis answers in well under a millisecond, and
 * when it is away a mutation must not wait for it.
 */
const NUDGE_WAIT_MS = 100;
/** How long a snapshot asked of another instance may take, in leases (asked again every round). */
const SNAPSHOT_LEASES = 5;

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

/**
 * Tells the cluster of a write or cold read of a token this instance has no feed for: the loop's holder syncs
 * at once, and the views other instances keep of the token wait for a response past it. The
 * nudge is sent, not awaited (Redis being away must not hold up a mutation).
 */
export function announceWrites(
  options: ClusterFeedOptions,
): (accessToken: string) => Promise<void> {
  return (accessToken) =>
    announce(options.redis, tokenKeys(options.tokenKey(accessToken)), randomUUID(), options.logger);
}

/**
 * Publishes nudge `id` on the token's channel; resolves once Redis has it, or after
 * {@link NUDGE_WAIT_MS} (never rejects: a lost nudge only costs a bounded wait or a cold read).
 */
function announce(
  redis: ClusterRedis,
  keys: TokenKeys,
  id: string,
  logger: UpstreamLogger | undefined,
): Promise<void> {
  const message: ClusterMessage = { kind: 'nudge', from: redis.self, id };
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    redis
      .send(keys, JSON.stringify(message))
      .catch((error: unknown) =>
        logger?.warn(
          { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) },
          'could not announce a write or cold read to the cluster',
        ),
      ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, NUDGE_WAIT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
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
  /** Resolves once Redis confirms this instance hears the token's channel. */
  readonly #listening = Promise.withResolvers<void>();
  /** The views here while another instance runs the loop. */
  readonly #follower: ViewFollower;
  /** As the holder: nudges received and when, until a response names them. */
  #nudgesReceived: { id: string; at: number }[] = [];
  /** As the holder: another instance keeps a view (Redis said so last round). */
  #othersViewing = false;
  /** As the holder: raw responses go out until then at least (a snapshot was asked for). */
  #rawWantedUntil = 0;
  /** As the holder: the response in hand, until its updates are published with it. */
  #pendingRaw: { response: SyncResponse; requestedAt: number } | null = null;
  /** As the holder: a raw response could not be published; the next message says so. */
  #rawLost = false;

  constructor(options: ClusterFeedOptions, init: SyncFeedInit) {
    this.#redis = options.redis;
    this.#init = init;
    this.#keys = tokenKeys(options.tokenKey(init.account.accessToken));
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#follower = new ViewFollower({
      self: this.#redis.self,
      send: (message) => this.#send(message),
      lastPublished: () => this.#redis.lastPublished(this.#keys),
      respond: (response, requestedAt) => init.respond(response, requestedAt),
      lost: () => init.lost(),
      snapshotTimeoutMs: this.#redis.leaseMs * SNAPSHOT_LEASES,
    });
  }

  async run(): Promise<void> {
    const onMessage = (event: CustomEvent) => this.#receive(event.detail);
    this.#redis.events.addEventListener(this.#keys.channel, onMessage);
    this.#listening.resolve(this.#redis.listening(this.#keys.channel));
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
    // A snapshot waiting to be asked for gives up (it finds the feed stopped).
    this.#listening.resolve();
    this.#follower.stop();
  }

  async snapshot(filter: SyncFilter): Promise<SyncResponse> {
    // Taken once the channel is heard: a write announced before then ended before the snapshot
    // is taken, and one announced after is heard here, which a view waits for.
    await this.#listening.promise;
    if (this.#loop !== null) {
      return this.#localSnapshot(this.#loop.loop, filter);
    }
    if (this.#stopped || this.#ended) {
      throw new DOMException('sync feed stopped', 'AbortError');
    }
    return this.#follower.ask(filter);
  }

  current(timeoutMs: number): Promise<boolean> {
    return this.#follower.current(timeoutMs);
  }

  /**
   * A write or cold read of the token's here: the loop syncs at once, wherever it runs, and the
   * views on every instance wait for a response that passed it (read-your-writes, and nothing
   * older than a cold answer, without sticky sessions).
   */
  nudge(): Promise<void> {
    const id = randomUUID();
    this.#follower.heard(id);
    if (this.#loop !== null) {
      this.#nudgeLoop(this.#loop.loop, id);
    }
    return announce(this.#redis, this.#keys, id, this.#logger);
  }

  /** As the holder: syncs now, and names `id` in the first response requested after this. */
  #nudgeLoop(loop: SyncLoop, id: string): void {
    this.#nudgesReceived.push({ id, at: performance.now() });
    this.#nudgesReceived.splice(0, this.#nudgesReceived.length - NUDGES_KEPT);
    loop.nudge();
  }

  /** One round: note the interest, then renew the lease held or try to take it. */
  async #tick(): Promise<void> {
    try {
      // Interest lasts two rounds past the next one: a late round does not drop it.
      const { others, otherViewers } = await this.#redis.noteInterest(
        this.#keys,
        this.#redis.leaseMs * 2,
        this.#init.observed(),
      );
      this.#othersViewing = otherViewers > 0;
      if (this.#loop !== null) {
        if (!(await this.#redis.renew(this.#keys))) {
          this.#logger?.warn({ loopId: this.#init.loopId }, 'sync lease lost to another instance');
          this.#depose(this.#loop.loop);
          await this.#stopLoop();
        }
      } else if (!this.#stopped && (await this.#redis.acquire(this.#keys))) {
        await this.#startLoop(others > 0);
      } else {
        this.#follower.askAgain();
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
      onResponse: (response, requestedAt) => {
        this.#pendingRaw = { response, requestedAt };
        // The response goes to the views here once its position is stored (#publish): a view
        // never shows what a takeover would not resume after. One without updates is published
        // for that alone (its updates, if any, come right after this and take it along).
        queueMicrotask(() => {
          if (this.#pendingRaw?.response === response) {
            this.#publish(loop, epoch, []);
          }
        });
      },
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
    this.#follower.takeOver(stored === null ? null : { epoch, seq: stored.seq }, (filter) =>
      this.#localSnapshot(loop, filter),
    );
  }

  /**
   * A snapshot of the loop running here, handed over in line with its responses: those before it
   * reach the views here (after their publish) before it does.
   */
  #localSnapshot(loop: SyncLoop, filter: SyncFilter): Promise<SyncResponse> {
    return new Promise((resolve, reject) => {
      loop.snapshot(filter).then((snapshot) => {
        this.#publishing = this.#publishing.then(() => resolve(snapshot));
      }, reject);
    });
  }

  /** The loop lost its lease: what it still had to publish is dropped, and with it the views' base. */
  #depose(loop: SyncLoop): void {
    this.#deposed.add(loop);
    if (this.#init.observed()) {
      this.#init.lost();
    }
  }

  /** As the holder: whether another instance needs the raw responses. */
  #rawWanted(): boolean {
    return this.#othersViewing || performance.now() < this.#rawWantedUntil;
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
    const raw = this.#pendingRaw;
    this.#pendingRaw = null;
    const withRaw = raw !== null && this.#rawWanted();
    let passed: string[] | undefined;
    if (raw !== null && this.#nudgesReceived.length > 0) {
      passed = this.#nudgesReceived.filter((nudge) => nudge.at < raw.requestedAt).map((n) => n.id);
      this.#nudgesReceived = this.#nudgesReceived.filter((nudge) => nudge.at >= raw.requestedAt);
    }
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
      const sent = wire.length > 0 || withRaw || (passed?.length ?? 0) > 0;
      let stored = false;
      const seq = sent ? this.#published + 1 : this.#published;
      const message: ClusterMessage = {
        kind: 'updates',
        from: this.#redis.self,
        epoch,
        seq,
        updates: wire,
        ...(withRaw && !this.#rawLost ? { response: responseToWire(raw.response) } : {}),
        ...(passed === undefined || passed.length === 0 ? {} : { passed }),
      };
      try {
        const held = await this.#redis.publish(
          this.#keys,
          sent ? JSON.stringify(message) : '',
          JSON.stringify({ epoch, seq, position }),
          { epoch, seq },
        );
        if (!held) {
          this.#logger?.warn({ loopId: this.#init.loopId }, 'sync lease lost while publishing');
          this.#depose(loop);
          if (this.#loop?.loop === loop) {
            void this.#stopLoop();
          }
          return;
        }
        this.#published = seq;
        this.#epoch = epoch;
        this.#seq = seq;
        this.#unpublished.clear();
        if (sent) {
          this.#rawLost = false;
        }
        stored = true;
      } catch (error) {
        this.#metrics?.publishFailed();
        // The views elsewhere cannot go on from a response they never got: the next message
        // goes without one, which makes them start over.
        this.#rawLost ||= withRaw;
        for (const update of updates) {
          if ('roomId' in update) {
            this.#unpublished.add(update.roomId);
          }
        }
        this.#warn(error, 'could not publish sync updates; other instances get a gap');
      }
      // Stored (or Redis is away, and the loop goes on here regardless): the views here take it.
      if (raw !== null) {
        this.#init.respond(raw.response, raw.requestedAt);
      }
      if (stored) {
        this.#follower.applied({ epoch, seq });
      }
    });
  }

  /** A message from the channel: another holder's updates, or word that the loop is free. */
  #receive(detail: unknown): void {
    const message = parseClusterMessage(detail);
    if (message === null || message.from === this.#redis.self || this.#stopped) {
      return;
    }
    switch (message.kind) {
      case 'released':
        if (this.#loop === null) {
          this.#wake?.();
        }
        return;
      case 'snapshot-request':
        this.#answerSnapshot(message.filter, message.id);
        return;
      case 'nudge':
        // Another instance wrote or read cold for the token: the views here wait for a response
        // past it (told first, so that the response's time, noted after, is not before the call's).
        if (this.#init.observed()) {
          this.#init.touched();
          this.#follower.heard(message.id);
        }
        // Only views wait for a response past it: without any, the loop need not hurry.
        if (this.#loop !== null && (this.#init.observed() || this.#rawWanted())) {
          this.#nudgeLoop(this.#loop.loop, message.id);
        }
        return;
      case 'snapshot':
        this.#follower.receiveSnapshot(message);
        return;
    }
    // Running the loop here, this instance delivers its own; another sender is a holder that
    // lost the lease and has not noticed yet.
    if (this.#loop !== null) {
      return;
    }
    const receivedAt = performance.now();
    this.#follower.follow(message);
    const gaps = this.#track(message.epoch, message.seq, false);
    if (gaps === null) {
      return;
    }
    this.#deliver([...gaps, ...message.updates.map(fromWire)], receivedAt);
  }

  /**
   * As the holder: takes the snapshot between two syncs and publishes it after the messages
   * before it, numbered as their last; the responses after it go out raw from now on.
   */
  #answerSnapshot(filter: SyncFilter, id: string): void {
    const running = this.#loop;
    if (running === null) {
      return;
    }
    this.#rawWantedUntil = performance.now() + this.#redis.leaseMs * 2;
    running.loop.snapshot(filter).then(
      (snapshot) => {
        this.#publishing = this.#publishing.then(async () => {
          if (this.#deposed.has(running.loop)) {
            return;
          }
          const answer: ClusterMessage = {
            kind: 'snapshot',
            from: this.#redis.self,
            id,
            epoch: running.epoch,
            after: this.#published,
            response: responseToWire(snapshot),
          };
          await this.#redis
            .send(this.#keys, JSON.stringify(answer))
            .catch((error: unknown) => this.#warn(error, 'could not publish a snapshot'));
        });
      },
      (error: unknown) => this.#warn(error, 'could not take a snapshot asked for'),
    );
  }

  /** Publishes a message on the token's channel (a failure only costs a retry or a cold read). */
  #send(message: ClusterMessage): void {
    this.#redis
      .send(this.#keys, JSON.stringify(message))
      .catch((error: unknown) => this.#warn(error, 'could not publish on the token channel'));
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
