/**
 * The warm room views of one token on an instance that does not run its sync loop (cluster mode):
 * what they need from the loop's holder, through the token's Redis channel, to stay exact.
 *
 * - A snapshot, asked for on the channel (again each round until it comes) and answered by the
 *   holder in line with its messages, numbered after the last message before it.
 * - Then each message's raw response in turn, numbered one after another; one missing (a message
 *   lost, another lineage, a response left out) means the views lost the thread, and are told.
 * - The nudges of the token's writes and cold reads, heard here when they were sent (here or
 *   elsewhere): a response that names one passed it, which is what a view waiting for it needs.
 * - Where the views stand, so that a read can wait until they hold every message published
 *   before it began ({@link ViewFollower.current}).
 *
 * Everything goes to the views in order, each step after the last (a snapshot before the responses
 * that follow it), whatever the order of the promises involved.
 */
import { randomUUID } from 'node:crypto';
import type { SyncFilter, SyncResponse } from '../matrix/sync.ts';
import type { PublishedMark } from './cluster-redis.ts';
import { type ClusterMessage, responseFromWire } from './update-wire.ts';

/** Nudges remembered (by ID, when heard), for the responses that name them. */
const NUDGES_KEPT = 64;

export interface ViewFollowerOptions {
  /** Publishes a message on the token's channel. */
  send(message: ClusterMessage): void;
  /** This instance's name as sender. */
  readonly self: string;
  /** The last message published for the token (Redis), for {@link ViewFollower.current}. */
  lastPublished(): Promise<PublishedMark | null>;
  /** Hands a response to the views here. */
  respond(response: SyncResponse, requestedAt: number): void;
  /** Tells the views here that they lost the thread. */
  lost(): void;
  /** How long a snapshot asked for may take before it fails. */
  readonly snapshotTimeoutMs: number;
}

interface WantedSnapshot {
  readonly filter: SyncFilter;
  readonly askedAt: number;
  readonly resolve: (snapshot: SyncResponse) => void;
  readonly reject: (error: Error) => void;
}

export class ViewFollower {
  readonly #options: ViewFollowerOptions;
  /** Snapshots asked of the holder, by request ID. */
  readonly #wanted = new Map<string, WantedSnapshot>();
  /** The message whose response the views here applied last, while they follow remote ones. */
  #base: PublishedMark | null = null;
  /** The message the views here hold last, however it came ({@link ViewFollower.applied}). */
  #applied: PublishedMark | null = null;
  readonly #appliedWaiters = new Set<() => void>();
  /** Steps to the views, one after another. */
  #toViews: Promise<void> = Promise.resolve();
  /** Nudges heard of here, by ID: when (`performance.now()`). */
  readonly #heard = new Map<string, number>();

  constructor(options: ViewFollowerOptions) {
    this.#options = options;
  }

  /** Asks the holder for a snapshot made with `filter`. */
  ask(filter: SyncFilter): Promise<SyncResponse> {
    return new Promise((resolve, reject) => {
      const id = randomUUID();
      this.#wanted.set(id, { filter, askedAt: performance.now(), resolve, reject });
      this.#request(id, filter);
    });
  }

  /** Each round without the loop: asks again for what has not come, gives up what took too long. */
  askAgain(): void {
    const now = performance.now();
    for (const [id, wanted] of this.#wanted) {
      if (now - wanted.askedAt > this.#options.snapshotTimeoutMs) {
        this.#wanted.delete(id);
        wanted.reject(new Error('no instance answered the snapshot request in time'));
      } else {
        this.#request(id, wanted.filter);
      }
    }
  }

  /**
   * This instance takes the loop over, resuming after message `resumed` (`null`: afresh): the
   * snapshots still wanted are taken by `snapshot` (its own loop) instead, and the views go on with
   * its responses only if it resumes right after the last message they applied (else they are
   * told they lost the thread). From now on this follows nothing until asked again.
   */
  takeOver(
    resumed: PublishedMark | null,
    snapshot: (filter: SyncFilter) => Promise<SyncResponse>,
  ): void {
    const base = this.#base;
    this.#base = null;
    if (base !== null && (resumed?.epoch !== base.epoch || resumed.seq !== base.seq)) {
      this.#options.lost();
    }
    for (const [id, wanted] of this.#wanted) {
      this.#wanted.delete(id);
      snapshot(wanted.filter).then(wanted.resolve, wanted.reject);
    }
  }

  /** Notes when this instance heard of nudge `id` (a write or cold read of the token). */
  heard(id: string): void {
    this.#heard.set(id, performance.now());
    if (this.#heard.size > NUDGES_KEPT) {
      this.#heard.delete(this.#heard.keys().next().value as string);
    }
  }

  /** The holder's answer to a snapshot asked for here: the views' new base. */
  receiveSnapshot(message: Extract<ClusterMessage, { kind: 'snapshot' }>): void {
    const wanted = this.#wanted.get(message.id);
    if (wanted === undefined) {
      return;
    }
    this.#wanted.delete(message.id);
    const snapshot = responseFromWire(message.response);
    if (snapshot === null) {
      wanted.reject(new Error('the snapshot received is malformed'));
      return;
    }
    const mark = { epoch: message.epoch, seq: message.after };
    this.#base = mark;
    this.#toViews = this.#toViews.then(() => {
      wanted.resolve(snapshot);
      this.applied(mark);
    });
  }

  /**
   * A message of the holder's: its raw response goes to the views if it is the next after their
   * base; they are told they lost the thread when it is not.
   */
  follow(message: Extract<ClusterMessage, { kind: 'updates' }>): void {
    const base = this.#base;
    if (base === null || (message.epoch === base.epoch && message.seq <= base.seq)) {
      return;
    }
    const response =
      message.epoch === base.epoch && message.seq === base.seq + 1 && message.response
        ? responseFromWire(message.response)
        : null;
    if (response === null) {
      this.#base = null;
      this.#toViews = this.#toViews.then(() => this.#options.lost());
      return;
    }
    this.#base = { epoch: base.epoch, seq: message.seq };
    // What the response passed: the latest of the nudges heard of here that it names (none: 0).
    let requestedAt = 0;
    for (const id of message.passed ?? []) {
      requestedAt = Math.max(requestedAt, this.#heard.get(id) ?? 0);
      this.#heard.delete(id);
    }
    const mark = { epoch: message.epoch, seq: message.seq };
    this.#toViews = this.#toViews.then(() => {
      this.#options.respond(response, requestedAt);
      this.applied(mark);
    });
  }

  /** The views here hold message `mark` now (also as the holder): reads waiting for it go on. */
  applied(mark: PublishedMark): void {
    this.#applied = mark;
    for (const waiter of [...this.#appliedWaiters]) {
      waiter();
    }
  }

  /**
   * Resolves `true` once the views here hold every message published for the token before the
   * call (its number is read from Redis), `false` when that takes longer than `timeoutMs`, Redis
   * cannot tell, or the loop has moved to another lineage. An answer from a view that passed this
   * never goes back from one another instance gave before it began.
   */
  async current(timeoutMs: number): Promise<boolean> {
    let target: PublishedMark | null;
    try {
      target = await this.#options.lastPublished();
    } catch {
      return false;
    }
    if (target === null) {
      return true;
    }
    const { epoch, seq } = target;
    const reached = () => this.#applied?.epoch === epoch && this.#applied.seq >= seq;
    if (reached()) {
      return true;
    }
    return new Promise((resolve) => {
      const check = () => {
        if (reached()) {
          settle(true);
        }
      };
      const timer = setTimeout(() => settle(false), timeoutMs);
      const settle = (ok: boolean) => {
        clearTimeout(timer);
        this.#appliedWaiters.delete(check);
        resolve(ok);
      };
      this.#appliedWaiters.add(check);
    });
  }

  /** The feed stops: the snapshots still wanted fail. */
  stop(): void {
    for (const [id, wanted] of this.#wanted) {
      this.#wanted.delete(id);
      wanted.reject(new DOMException('sync feed stopped', 'AbortError'));
    }
  }

  #request(id: string, filter: SyncFilter): void {
    this.#options.send({ kind: 'snapshot-request', from: this.#options.self, id, filter });
  }
}
