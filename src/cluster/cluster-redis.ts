/**
 * What cluster mode keeps in Redis, per token (named by its keyed hash, src/cluster/token-key.ts):
 *
 * - `mf:{h}:lease` — the instance running the token's sync loop; expires unless renewed, so that
 *   another instance takes over when the holder dies;
 * - `mf:{h}:pos` — where that loop stands (`since`, rooms, the message count), stored in the same
 *   script that publishes each response, so that a takeover resumes exactly after the last
 *   message any instance received: no gap, no repeat;
 * - `mf:{h}:interest` — the instances with listeners for the token (a sorted set of expiry
 *   times), so that the holder leaving knows whether to hand the loop over or end it;
 * - `mf:{h}:viewers` — those of them keeping a warm room view of the token (the same way), so
 *   that the holder publishes its raw responses while anyone else needs them;
 * - `mf:{h}:seq` — the lineage and number of the last message published (`<epoch> <seq>`), stored
 *   with the position, which a warm read waits for its instance to have applied;
 * - channel `mf:{h}:updates` — the loop's updates (src/cluster/update-wire.ts), received through
 *   yoga's Redis event target.
 *
 * Each step that must not interleave with another instance's is one Lua script, which Redis runs
 * atomically. The `{h}` hash tag keeps a token's keys in one slot of a Redis Cluster.
 */
import { randomUUID } from 'node:crypto';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';

/** One token's keys and channel. */
export interface TokenKeys {
  readonly lease: string;
  readonly position: string;
  readonly interest: string;
  readonly viewers: string;
  readonly seq: string;
  readonly channel: string;
}

export function tokenKeys(hash: string): TokenKeys {
  const prefix = `mf:{${hash}}`;
  return {
    lease: `${prefix}:lease`,
    position: `${prefix}:pos`,
    interest: `${prefix}:interest`,
    viewers: `${prefix}:viewers`,
    seq: `${prefix}:seq`,
    channel: `${prefix}:updates`,
  };
}

/** Redis's clock in ms, so that instances with skewed clocks agree on expiry. */
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Stores the holder's position and publishes its message, if it still holds the lease; a lease
 * Redis lost (a restart without persistence) is taken back. 1: done; 0: another instance holds it.
 * KEYS: lease, position, seq. ARGV: holder, lease ms, channel, message ('' for none), position,
 * position ms, seq.
 */
const PUBLISH = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[6])
redis.call('SET', KEYS[3], ARGV[7], 'PX', ARGV[6])
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1`;

/**
 * Renews the holder's lease (and keeps its position alive); takes back a lease Redis lost.
 * 1: held; 0: another instance holds it. KEYS: lease, position, seq. ARGV: holder, lease ms,
 * position ms.
 */
const RENEW = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 1`;

/**
 * Notes the instance's interest until now + ttl, and whether it keeps a view (ARGV[3] = '1');
 * returns how many other instances are interested, and how many others keep a view.
 * KEYS: interest, viewers. ARGV: instance, ttl ms, viewing.
 */
const INTEREST = `${NOW}
local expiry = now + tonumber(ARGV[2])
for _, key in ipairs(KEYS) do redis.call('ZREMRANGEBYSCORE', key, '-inf', now) end
redis.call('ZADD', KEYS[1], expiry, ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[2], expiry, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]) * 2)
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
local viewers = redis.call('ZCARD', KEYS[2]) - (ARGV[3] == '1' and 1 or 0)
return {redis.call('ZCARD', KEYS[1]) - 1, viewers}`;

/**
 * The instance has no listeners left for the token. A lease it holds is released, and the other
 * instances still interested are told (`released`) so that one takes over. With none left, or
 * when the loop ended for good (ARGV[4] = '1'), the position goes too: a loop started later
 * serves new subscribers, who want what happens from then on. Returns how many others remain.
 * KEYS: interest, lease, position, viewers, seq. ARGV: instance, channel, released message, ended.
 */
const LEAVE = `${NOW}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local others = redis.call('ZCARD', KEYS[1])
local held = redis.call('GET', KEYS[2]) == ARGV[1]
if held then redis.call('DEL', KEYS[2]) end
if others == 0 or ARGV[4] == '1' then
  redis.call('DEL', KEYS[3], KEYS[5])
elseif held then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return others`;

interface ClusterScripts {
  mfPublish(...args: (string | number)[]): Promise<number>;
  mfRenew(...args: (string | number)[]): Promise<number>;
  mfInterest(...args: (string | number)[]): Promise<[number, number]>;
  mfLeave(...args: (string | number)[]): Promise<number>;
}

/** A message of a token's loop: its lineage and number (update-wire.ts). */
export interface PublishedMark {
  readonly epoch: string;
  readonly seq: number;
}

/** What a position is stored with: the loop's lineage and message count (update-wire.ts). */
export interface StoredPosition<P> {
  epoch: string;
  seq: number;
  position: P;
}

export interface ClusterRedisOptions {
  /** The `REDIS_URL`; may hold a password, so it is never logged. */
  url: string;
  /** Names the connections (`CLIENT LIST`) and the lease holder. */
  instanceId: string;
  /** How long a lease lasts without renewal. */
  leaseMs: number;
  /** Told of connection errors (ioredis reconnects by itself). */
  onError?: (error: Error) => void;
}

/**
 * The instance's two Redis connections (commands, and the subscriber the event target needs) and
 * the cluster's operations on them. Redis being away never throws out of a connection: commands
 * fail after one reconnection attempt, while subscriptions wait for Redis to come back and are
 * renewed then (ioredis's own resubscribe).
 */
export class ClusterRedis {
  readonly instanceId: string;
  /**
   * This process's name as lease holder, interested instance and sender: the instance ID and a
   * random part, so that a restarted instance (same ID) never takes its predecessor's messages
   * or lease for its own.
   */
  readonly self: string;
  readonly leaseMs: number;
  /** Receives the channels' messages (yoga's Redis event target). */
  readonly events: ReturnType<typeof createRedisEventTarget<CustomEvent>>;
  readonly #commands: Redis & ClusterScripts;
  readonly #subscriber: Redis;

  constructor(options: ClusterRedisOptions) {
    this.instanceId = options.instanceId;
    this.self = `${options.instanceId}/${randomUUID().slice(0, 8)}`;
    this.leaseMs = options.leaseMs;
    const common = {
      connectionName: `matrix-facade:${options.instanceId}`,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 1000),
      // A command waits for one reconnection at most: lease renewals and publishes must fail in
      // time, not queue up while Redis is away.
      maxRetriesPerRequest: 1,
    };
    const onError = options.onError ?? (() => {});
    this.#commands = new Redis(options.url, common) as Redis & ClusterScripts;
    // The event target subscribes without handling a rejection: on this connection commands wait
    // for Redis however long it takes, so that none is ever rejected.
    this.#subscriber = new Redis(options.url, { ...common, maxRetriesPerRequest: null });
    this.#commands.on('error', onError);
    this.#subscriber.on('error', onError);
    this.#commands.defineCommand('mfPublish', { numberOfKeys: 3, lua: PUBLISH });
    this.#commands.defineCommand('mfRenew', { numberOfKeys: 3, lua: RENEW });
    this.#commands.defineCommand('mfInterest', { numberOfKeys: 2, lua: INTEREST });
    this.#commands.defineCommand('mfLeave', { numberOfKeys: 5, lua: LEAVE });
    this.events = createRedisEventTarget({
      publishClient: this.#commands,
      subscribeClient: this.#subscriber,
    });
  }

  /**
   * Resolves once Redis confirms that this instance hears `channel` (which the event target
   * subscribed to first, on the same connection); never rejects.
   */
  async listening(channel: string): Promise<void> {
    await this.#subscriber.subscribe(channel).catch(() => {});
  }

  /** Calls `listener` each time both connections are (again) ready. */
  onReady(listener: () => void): void {
    const both = () => {
      if (this.#commands.status === 'ready' && this.#subscriber.status === 'ready') {
        listener();
      }
    };
    this.#commands.on('ready', both);
    this.#subscriber.on('ready', both);
  }

  /** How long a stored position outlives the last renewal of its lease. */
  get positionMs(): number {
    return Math.max(60_000, this.leaseMs * 10);
  }

  /** Takes the lease if nobody holds it. */
  async acquire(keys: TokenKeys): Promise<boolean> {
    return (await this.#commands.set(keys.lease, this.self, 'PX', this.leaseMs, 'NX')) === 'OK';
  }

  /** Renews a held lease; `false` when another instance holds it now. */
  async renew(keys: TokenKeys): Promise<boolean> {
    return (
      (await this.#commands.mfRenew(
        keys.lease,
        keys.position,
        keys.seq,
        this.self,
        this.leaseMs,
        this.positionMs,
      )) === 1
    );
  }

  /** Stores the position and publishes `message` (JSON, or '' for none) while holding the lease. */
  async publish(
    keys: TokenKeys,
    message: string,
    position: string,
    published: PublishedMark,
  ): Promise<boolean> {
    return (
      (await this.#commands.mfPublish(
        keys.lease,
        keys.position,
        keys.seq,
        this.self,
        this.leaseMs,
        keys.channel,
        message,
        position,
        this.positionMs,
        `${published.epoch} ${published.seq}`,
      )) === 1
    );
  }

  /** The last message published for the token, if any (`mf:{h}:seq`). */
  async lastPublished(keys: TokenKeys): Promise<PublishedMark | null> {
    const text = await this.#commands.get(keys.seq);
    const [epoch, seq] = text?.split(' ') ?? [];
    return epoch === undefined || seq === undefined ? null : { epoch, seq: Number(seq) };
  }

  /** The stored position of the token's loop, if any. */
  async readPosition<P>(keys: TokenKeys): Promise<StoredPosition<P> | null> {
    const text = await this.#commands.get(keys.position);
    return text === null ? null : (JSON.parse(text) as StoredPosition<P>);
  }

  /**
   * Notes that this instance has listeners for the token, for `ttlMs`, and whether it keeps a
   * view of it; resolves with how many other instances have listeners, and how many others keep
   * a view (or had, if they died within `ttlMs`).
   */
  async noteInterest(
    keys: TokenKeys,
    ttlMs: number,
    viewing: boolean,
  ): Promise<{ others: number; otherViewers: number }> {
    const [others, otherViewers] = await this.#commands.mfInterest(
      keys.interest,
      keys.viewers,
      this.self,
      ttlMs,
      viewing ? '1' : '0',
    );
    return { others, otherViewers };
  }

  /** Publishes `message` on the token's channel, whoever holds the lease. */
  async send(keys: TokenKeys, message: string): Promise<void> {
    await this.#commands.publish(keys.channel, message);
  }

  /** See {@link LEAVE}: hands the loop over, or ends it when nobody else listens. */
  async leave(keys: TokenKeys, released: string, ended: boolean): Promise<void> {
    await this.#commands.mfLeave(
      keys.interest,
      keys.lease,
      keys.position,
      keys.viewers,
      keys.seq,
      this.self,
      keys.channel,
      released,
      ended ? '1' : '0',
    );
  }

  /** For `/readyz`: `ok`, or what is wrong with the connections. */
  async check(timeoutMs: number): Promise<string> {
    for (const connection of [this.#commands, this.#subscriber]) {
      if (connection.status !== 'ready') {
        return connection.status === 'end' ? 'closed' : `not connected (${connection.status})`;
      }
    }
    try {
      await Promise.race([
        this.#commands.ping(),
        new Promise((_, reject) => setTimeout(reject, timeoutMs).unref()),
      ]);
      return 'ok';
    } catch {
      return 'timeout';
    }
  }

  /** Closes both connections (what is in flight is sent first). */
  async close(): Promise<void> {
    await Promise.allSettled([this.#commands.quit(), this.#subscriber.quit()]);
  }
}
