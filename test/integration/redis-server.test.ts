/**
 * The harness of the cluster tests, against the real thing: Debian's redis-server (installed on
 * first use) started, restarted, killed and stopped by scripts/redis/redis-server.ts, the traffic
 * recorder the secret-leak tests rely on, and a cluster of facade processes. If these are wrong,
 * a cluster test could pass against a Redis that was never there, or leave processes behind.
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startFacadeCluster } from '../support/facade-cluster.ts';
import { homeserver } from '../support/homeserver.ts';
import { recordRedisTraffic, startTestRedis } from '../support/redis.ts';

/** A client that fails at once instead of reconnecting, so that a dead Redis shows. */
function client(url: string): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // A refused connection shows as the command that fails.
  redis.on('error', () => {});
  return redis;
}

/** Whether a process with this PID exists (`kill(pid, 0)` fails with ESRCH when it does not). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') {
      return false;
    }
    throw error;
  }
}

describe('startRedis', () => {
  it('answers PING, and restarts empty on the same port with a new PID', async () => {
    await using redis = await startTestRedis();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    const before = client(redis.url);
    expect(await before.ping()).toBe('PONG');
    await before.set('survives-restart', 'no');
    before.disconnect();

    const { pid, port } = redis;
    await redis.restart();
    expect(redis.port).toBe(port);
    expect(redis.pid).not.toBe(pid);
    expect(processExists(pid)).toBe(false);
    const after = client(redis.url);
    expect(await after.ping()).toBe('PONG');
    expect(await after.get('survives-restart')).toBeNull();
    after.disconnect();
  });

  it('restarts after a kill', async () => {
    await using redis = await startTestRedis();
    const { pid } = redis;
    await redis.kill();
    expect(processExists(pid)).toBe(false);
    const refused = client(redis.url);
    await expect(refused.ping()).rejects.toThrow();
    refused.disconnect();

    await redis.restart();
    expect(redis.pid).not.toBe(pid);
    const after = client(redis.url);
    expect(await after.ping()).toBe('PONG');
    after.disconnect();
  });

  it('stops its process and removes its data directory', async () => {
    const redis = await startTestRedis();
    const { pid, dataDir } = redis;
    expect(processExists(pid)).toBe(true);
    expect(existsSync(dataDir)).toBe(true);
    await redis.stop();
    expect(processExists(pid)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('recordRedisTraffic', () => {
  it('records the commands sent and every key with its value', async () => {
    await using redis = await startTestRedis();
    await using traffic = await recordRedisTraffic(redis.url);
    const writer = client(redis.url);
    await writer.set('session:known-key', 'known-string-value');
    await writer.hset('session:hash', { field: 'known-hash-value' });
    await writer.rpush('session:list', 'known-list-value');
    await writer.publish('channel', 'known-published-message');
    writer.disconnect();

    const dump = await traffic.dump();
    expect(traffic.commands).toContainEqual(
      expect.stringMatching(/\] set session:known-key known-string-value$/),
    );
    expect(dump).toContain('known-published-message');
    expect(dump).toMatch(/db0 session:known-key \(string\): known-string-value/);
    expect(dump).toMatch(/db0 session:hash \(hash\): .*known-hash-value/);
    expect(dump).toMatch(/db0 session:list \(list\): .*known-list-value/);
  });

  it('finds in the keyspace what was stored before it began recording', async () => {
    await using redis = await startTestRedis();
    const writer = client(redis.url);
    await writer.select(3);
    await writer.set('stored-earlier', 'value-stored-earlier');
    writer.disconnect();

    await using traffic = await recordRedisTraffic(redis.url);
    const dump = await traffic.dump();
    expect(traffic.commands.join('\n')).not.toContain('value-stored-earlier');
    expect(dump).toContain('db3 stored-earlier (string): value-stored-earlier');
  });

  it('refuses to dump once Redis went away, since it may have missed commands', async () => {
    await using redis = await startTestRedis();
    await using traffic = await recordRedisTraffic(redis.url);
    await redis.kill();
    await redis.restart();
    await expect(traffic.dump()).rejects.toThrow(/MONITOR connection was lost/);
  });
});

/** `{ __typename }` over HTTP, as any client sends it. */
async function typename(url: string): Promise<unknown> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
  return response.json();
}

describe('startFacadeCluster', () => {
  it('starts, kills, restarts and stops facade processes', { timeout: 90_000 }, async () => {
    const cluster = await startFacadeCluster(2, homeserver().url, {});
    const killedPid = cluster.instance(0).pid;
    const pids = [killedPid, cluster.instance(1).pid];
    try {
      expect(cluster.size).toBe(2);
      expect(cluster.instance(0).env['INSTANCE_ID']).toBe('facade-0');
      expect(cluster.instance(1).env['INSTANCE_ID']).toBe('facade-1');
      for (const url of cluster.urls) {
        expect(await typename(url)).toEqual({ data: { __typename: 'Query' } });
      }

      const [killedUrl = '', survivorUrl = ''] = cluster.urls;
      await cluster.kill(0);
      expect(cluster.instance(0).running).toBe(false);
      expect(processExists(killedPid)).toBe(false);
      await expect(typename(killedUrl)).rejects.toThrow();
      expect(await typename(survivorUrl)).toEqual({ data: { __typename: 'Query' } });

      // A port picked afresh: almost always another one, never asserted (it may come round).
      const restartedUrl = await cluster.restart(0);
      expect(cluster.urls[0]).toBe(restartedUrl);
      expect(cluster.instance(0).env['INSTANCE_ID']).toBe('facade-0');
      pids.push(cluster.instance(0).pid);
      expect(cluster.instance(0).pid).not.toBe(killedPid);
      expect(await typename(restartedUrl)).toEqual({ data: { __typename: 'Query' } });
    } finally {
      await cluster.stop();
    }
    for (const pid of pids) {
      expect(processExists(pid)).toBe(false);
    }
  });
});
