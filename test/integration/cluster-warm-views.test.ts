/**
 * Warm room views in cluster mode, against a real Synapse and a real Redis with two facade
 * processes: the instance that does not run the user's sync loop answers the room list warm too,
 * from a snapshot the loop's holder took for it and the raw responses it relays, with the user's
 * one long-poll for both instances. A write through either instance shows on the next read
 * through either (a nudge through Redis), other users' writes arrive, `roomList` pushes, and when
 * the holder is killed the other instance takes the loop over and its view goes on.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, createClient } from 'graphql-ws';
import type { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { graphql, newAgent } from '../../bench/lib/client.ts';
import { type CountingProxy, startCountingProxy } from '../../bench/lib/counting-proxy.ts';
import { loopHolder } from '../../bench/lib/loop-holder.ts';
import { withoutSyncLoop } from '../../bench/lib/warm-view.ts';
import type { RunningRedis } from '../../scripts/redis/redis-server.ts';
import type { Upstream } from '../../src/matrix/http.ts';
import type { MatrixClient } from '../../src/matrix/matrix-client.ts';
import { sendMessageEvent } from '../../src/matrix/room-events.ts';
import { createRoom, inviteUser, joinRoom } from '../../src/matrix/rooms.ts';
import { type FacadeCluster, startFacadeCluster } from '../support/facade-cluster.ts';
import {
  homeserver,
  newUpstream,
  newUserClient,
  type RegisteredUser,
} from '../support/homeserver.ts';
import { startTestRedis } from '../support/redis.ts';

const CURSOR_SECRET = 'cluster-warm-secret-0123456789-abcdefghijklmno';
const LEASE_MS = 1000;
const ROOMS = 3;

const ROOM_LIST = `query ClusterWarmList {
  rooms(first: 20) {
    edges { node { id name joinedMemberCount messages(last: 1) { edges { node { id ... on MessageEvent { body } } } } } }
  }
}`;

const SEND = `mutation ClusterWarmSend($input: SendMessageInput!) {
  sendMessage(input: $input) { event { id } }
}`;

const LIVE_LIST = `subscription ClusterWarmLive {
  roomList(first: 10) { rooms { id name latest: messages(last: 1) { edges { node { ... on MessageEvent { body } } } } } }
}`;

interface ListedRoom {
  id: string;
  name: string | null;
  joinedMemberCount: number;
  messages: { edges: { node: { id: string; body?: string } }[] };
}
interface RoomListData {
  rooms: { edges: { node: ListedRoom }[] };
}

describe('cluster mode: warm room views on every instance', () => {
  let redis: RunningRedis;
  let proxy: CountingProxy;
  let cluster: FacadeCluster;
  let upstream: Upstream & AsyncDisposable;
  let agent: Agent;
  let viewer: { user: RegisteredUser; client: MatrixClient };
  let other: { user: RegisteredUser; client: MatrixClient };
  const roomIds: string[] = [];
  const clients: Client[] = [];

  /** Upstream calls besides the sync loop's long-polls and snapshots (GET /sync). */
  const readCalls = () => withoutSyncLoop(proxy).requests;
  const listOn = async (instance: number) => {
    const before = readCalls();
    const { body } = await graphql<RoomListData>(
      agent,
      cluster.urls[instance] ?? '',
      viewer.user.accessToken,
      ROOM_LIST,
    );
    return { rooms: body.rooms.edges.map((edge) => edge.node), calls: readCalls() - before };
  };
  /** Reads on `instance` until a read costs no upstream call (its view answers), at most 40. */
  const untilWarm = async (instance: number) => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const read = await listOn(instance);
      if (read.calls === 0) {
        return read;
      }
      await sleep(250);
    }
    throw new Error(`instance ${instance} never answered the room list warm`);
  };
  const latestBody = (rooms: readonly ListedRoom[], roomId: string) =>
    rooms.find((room) => room.id === roomId)?.messages.edges[0]?.node.body;
  const holder = () => loopHolder(redis.url, CURSOR_SECRET, viewer.user.accessToken);

  beforeAll(async () => {
    redis = await startTestRedis();
    proxy = await startCountingProxy(homeserver().url);
    cluster = await startFacadeCluster(2, proxy.url, {
      REDIS_URL: redis.url,
      CURSOR_SECRET,
      CLUSTER_LEASE_MS: String(LEASE_MS),
      SYNC_GRACE_PERIOD_MS: '1000',
      SYNC_POLL_TIMEOUT_MS: '10000',
      WARM_VIEW_IDLE_MS: '60000',
      LOG_LEVEL: 'info',
    });
    agent = newAgent();
    upstream = newUpstream();
    viewer = await newUserClient(upstream, 'cwarm-viewer');
    other = await newUserClient(upstream, 'cwarm-other');
    for (let index = 0; index < ROOMS; index++) {
      const { roomId } = await createRoom(viewer.client, {
        preset: 'private_chat',
        name: `Cluster warm ${index}`,
      });
      await inviteUser(viewer.client, roomId, other.user.userId);
      await joinRoom(other.client, roomId);
      await sendMessageEvent(other.client, roomId, 'm.room.message', `seed-${index}`, {
        msgtype: 'm.text',
        body: `seed-${index}`,
      });
      roomIds.push(roomId);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await cluster?.stop();
    await agent?.close();
    await proxy?.close();
    await upstream?.close();
    await redis?.stop();
  });

  it('should answer the list warm on the instance without the loop, as the holder does, with one long-poll', async () => {
    const cold = await listOn(0);
    expect(cold.calls).toBeGreaterThan(0);
    const onHolder = await untilWarm(0);
    expect(await holder()).toBe(0);
    proxy.resetPeak();

    const elsewhere = await untilWarm(1);
    expect(elsewhere.rooms).toEqual(onHolder.rooms);
    expect(elsewhere.rooms.map((room) => room.name).sort()).toEqual(
      Array.from({ length: ROOMS }, (_, index) => `Cluster warm ${index}`),
    );
    // Instance 1 runs no loop of its own: its view is fed by instance 0's.
    expect(await holder()).toBe(0);
    expect(proxy.peakLongPollsPerToken).toBe(1);
  });

  it("should show the viewer's own writes on its next read there, and other users' writes as they come", async () => {
    const [roomId] = roomIds as [string];
    let seen = -1;
    for (let round = 0; round < 6; round++) {
      const body = `own-${round}`;
      await graphql(agent, cluster.urls[1] ?? '', viewer.user.accessToken, SEND, {
        input: { roomId, body },
      });
      const read = await listOn(1);
      expect(latestBody(read.rooms, roomId)).toBe(body);
      expect(read.calls).toBe(0);
      // Another user writes in between: the next read may show it, never anything older.
      await sendMessageEvent(other.client, roomId, 'm.room.message', `theirs-${round}`, {
        msgtype: 'm.text',
        body: `theirs-${round}`,
      });
      const next = await listOn(1);
      const latest = latestBody(next.rooms, roomId) ?? '';
      const order = [`own-${round}`, `theirs-${round}`].indexOf(latest) + round * 2;
      expect(order).toBeGreaterThanOrEqual(round * 2);
      expect(order).toBeGreaterThan(seen);
      seen = order;
    }
    await expect
      .poll(async () => latestBody((await listOn(1)).rooms, roomId), { timeout: 10_000 })
      .toBe('theirs-5');
    expect(await holder()).toBe(0);
  });

  it('should show a write made through either instance on the next read through the other', async () => {
    const [roomId] = roomIds as [string];
    for (let round = 0; round < 6; round++) {
      const writer = round % 2;
      const reader = 1 - writer;
      const body = `crossed-${round}`;
      await graphql(agent, cluster.urls[writer] ?? '', viewer.user.accessToken, SEND, {
        input: { roomId, body },
      });
      const read = await listOn(reader);
      expect(latestBody(read.rooms, roomId)).toBe(body);
      expect(read.calls).toBe(0);
    }
  });

  it('should push the room list from the instance without the loop', async () => {
    const [, roomId] = roomIds as [string, string];
    const pages: { rooms: { id: string; latest: { edges: { node: { body?: string } }[] } }[] }[] =
      [];
    const client = createClient({
      url: `${(cluster.urls[1] ?? '').replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${viewer.user.accessToken}` },
    });
    clients.push(client);
    const errors: unknown[] = [];
    client.subscribe(
      { query: LIVE_LIST },
      {
        next: (value) => {
          const data = value.data as { roomList: (typeof pages)[number] } | null | undefined;
          if (data) {
            pages.push(data.roomList);
          }
          if (value.errors) {
            errors.push(...value.errors);
          }
        },
        error: (error) => errors.push(error),
        complete: () => {},
      },
    );
    await expect.poll(() => pages.length, { timeout: 10_000 }).toBeGreaterThan(0);
    await sendMessageEvent(other.client, roomId, 'm.room.message', 'pushed', {
      msgtype: 'm.text',
      body: 'pushed',
    });
    await expect
      .poll(() => pages.at(-1)?.rooms[0], { timeout: 10_000 })
      .toMatchObject({ id: roomId, latest: { edges: [{ node: { body: 'pushed' } }] } });
    expect(errors).toEqual([]);
  });

  it('should go on answering warm and fresh there when the holder is killed', async () => {
    const [, , roomId] = roomIds as [string, string, string];
    await cluster.kill(0);
    await expect.poll(holder, { timeout: 10_000, interval: 200 }).toBe(1);
    await sendMessageEvent(other.client, roomId, 'm.room.message', 'after-takeover', {
      msgtype: 'm.text',
      body: 'after-takeover',
    });
    await expect
      .poll(async () => latestBody((await listOn(1)).rooms, roomId), { timeout: 10_000 })
      .toBe('after-takeover');
    const read = await untilWarm(1);
    expect(latestBody(read.rooms, roomId)).toBe('after-takeover');
    // The loop resumed right after the last response the view had applied: it went on, rather
    // than being dropped and taking a new snapshot.
    const metrics = await (await fetch(`${cluster.urls[1]}/metrics`)).text();
    expect(metrics).not.toMatch(/matrix_facade_warm_view_evictions_total\{reason="lost"\} [1-9]/);
    expect(metrics).toMatch(/matrix_facade_warm_view_reads_total\{outcome="hit"\} [1-9]/);
  });
});
