/**
 * What a cluster test needs from Redis: a fresh real redis-server of its own, and a recorder of
 * everything that passes through it, so that a test can assert that a secret (an access token)
 * appears neither in a command sent to Redis nor in anything stored there.
 */
import { Redis } from 'ioredis';
import { type RunningRedis, startRedis } from '../../scripts/redis/redis-server.ts';

/** A redis-server on a free loopback port, installed first when missing; `stop()` it after. */
export function startTestRedis(): Promise<RunningRedis> {
  return startRedis();
}

export interface RedisTraffic extends AsyncDisposable {
  /** Every command Redis executed since recording began, one line each, as `MONITOR` shows it. */
  readonly commands: readonly string[];
  /**
   * Everything seen so far as one text: the commands, then every key of every database with its
   * value read by type. Waits first until every command Redis executed before the call is in
   * {@link commands}; throws when the recording has a gap (Redis restarted or killed since).
   */
  dump(): Promise<string>;
  close(): Promise<void>;
}

/** Starts recording the commands the Redis at `url` executes (a `MONITOR` connection). */
export async function recordRedisTraffic(url: string): Promise<RedisTraffic> {
  // A test helper must fail, not retry for ever, when Redis is gone.
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  const monitor = await client.monitor();
  // Neither connection reconnects: commands run while the MONITOR was away would go unrecorded,
  // and a test asserting that a secret never reached Redis would pass without having looked.
  let lost: string | undefined;
  let closing = false;
  monitor.on('error', (error: Error) => {
    lost ??= error.message;
  });
  client.on('error', () => {
    // Shows as the command that failed.
  });
  monitor.on('end', () => {
    if (!closing) {
      lost ??= 'connection closed';
    }
  });
  const commands: string[] = [];
  const seen = new Set<string>();
  monitor.on('monitor', (time: string, args: string[], source: string, database: string) => {
    commands.push(`${time} [${database} ${source}] ${args.join(' ')}`);
    if (args[0]?.toLowerCase() === 'echo' && args[1] !== undefined) {
      seen.add(args[1]);
    }
  });

  // MONITOR streams commands in the order Redis executes them: once a marker sent now comes
  // through, so has every command before it.
  let markers = 0;
  const catchUp = async (): Promise<void> => {
    const marker = `record-redis-traffic-marker-${process.pid}-${++markers}`;
    await client.echo(marker);
    const deadline = Date.now() + 5_000;
    while (!seen.has(marker)) {
      if (Date.now() > deadline) {
        throw new Error('the MONITOR connection did not catch up within 5 s');
      }
      await new Promise((resolveWait) => setTimeout(resolveWait, 5));
    }
  };

  const dump = async (): Promise<string> => {
    if (lost !== undefined) {
      throw new Error(
        `the MONITOR connection was lost (${lost}), so later commands were not recorded: record anew after a restart of Redis`,
      );
    }
    await catchUp();
    const recorded = [...commands];
    return `--- commands ---\n${recorded.join('\n')}\n--- keyspace ---\n${await dumpKeyspace(client)}`;
  };
  const close = async (): Promise<void> => {
    closing = true;
    monitor.disconnect();
    client.disconnect();
  };
  return {
    get commands() {
      return commands;
    },
    dump,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Every key of every non-empty database, with its type and value, one line each. */
async function dumpKeyspace(client: Redis): Promise<string> {
  const keyspace = await client.info('keyspace');
  const databases = [...keyspace.matchAll(/^db(\d+):/gm)].map((match) => Number(match[1]));
  const lines: string[] = [];
  for (const database of databases) {
    await client.select(database);
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await client.type(key);
        lines.push(`db${database} ${key} (${type}): ${await readValue(client, key, type)}`);
      }
    } while (cursor !== '0');
  }
  await client.select(0);
  return lines.join('\n');
}

async function readValue(client: Redis, key: string, type: string): Promise<string> {
  switch (type) {
    case 'string':
      return (await client.get(key)) ?? '';
    case 'hash':
      return JSON.stringify(await client.hgetall(key));
    case 'list':
      return JSON.stringify(await client.lrange(key, 0, -1));
    case 'set':
      return JSON.stringify(await client.smembers(key));
    case 'zset':
      return JSON.stringify(await client.zrange(key, 0, -1, 'WITHSCORES'));
    case 'stream':
      return JSON.stringify(await client.xrange(key, '-', '+'));
    case 'none':
      return '(expired while dumped)';
    default:
      // A module's type: its serialized form still holds any string stored in it.
      return (await client.dumpBuffer(key))?.toString('latin1') ?? '';
  }
}
