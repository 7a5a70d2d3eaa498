/**
 * Scenario `room-list-live`: a viewer in N rooms (50; smoke 5) keeps the top of their room list
 * live with one graphql-ws `roomList(first: 20) { hasMore rooms { id name } }` subscription on a
 * facade child with warm room views on (`WARM_VIEW_IDLE_MS=60000`), behind a counting proxy. After
 * its first push, in each of R rounds (30; smoke 3) another user sends one message straight to
 * Synapse to a random room of the viewer's (never the room already first: its page must change).
 * Measured: the time from the proxy receiving the viewer's `/sync` answer that carries that event
 * (its event ID in the body) to the push whose page shows that room first arriving at the client,
 * both on `performance.now()` in the bench process. Each round waits for its push, then a short
 * pause. Also: the facade's CPU over the rounds per push (its sync loop's work included; `/proc`
 * counts 10 ms ticks), and its upstream calls during the rounds by endpoint.
 *
 * Then the same in cluster mode: two facade instances on a Redis of their own, the viewer's sync
 * loop on instance 0 (read there first) and the subscriber on instance 1, whose view is fed
 * through Redis; the time is still from the proxy receiving the holder's `/sync` answer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from 'graphql-ws';
import type { Agent } from 'undici';
import { startRedis } from '../../scripts/redis/redis-server.ts';
import { graphql, mapLimit, newAgent } from '../lib/client.ts';
import type { BenchContext } from '../lib/context.ts';
import { type CountingProxy, startCountingProxy } from '../lib/counting-proxy.ts';
import { startFacadeProcess } from '../lib/facade-process.ts';
import { loopHolder } from '../lib/loop-holder.ts';
import { createRoom, joinRoom, type RegisteredUser, registerUsers, sendText } from '../lib/seed.ts';
import { round, summarize } from '../lib/stats.ts';
import { connect, describe, waitUntilSubscribed } from '../lib/subscribers.ts';
import { formatTable, ms } from '../lib/table.ts';

/** The rooms one push shows. */
const FIRST = 20;
/** The wait after each round's push before the next send. */
const PAUSE_MS = 200;
/** How long a round waits for its push. */
const ROUND_TIMEOUT_MS = 30_000;
const TARGET_MS = 50;
/** Cluster mode's CURSOR_SECRET, the same on both instances. */
const CLUSTER_SECRET = 'room-list-live-cluster-secret-0123456789-abcdefgh';

const subscription = `subscription ($first: Int!) {
  roomList(first: $first) { hasMore rooms { id name } }
}`;

export interface RoomListLiveSizes {
  /** Rooms the viewer is in (50; smoke 5). */
  readonly rooms: number;
  /** Message rounds, one push each (30; smoke 3). */
  readonly rounds: number;
}

interface Push {
  readonly at: number;
  readonly firstRoomId: string | undefined;
  readonly rooms: number;
  readonly hasMore: boolean;
}

export async function roomListLive(ctx: BenchContext, sizes: RoomListLiveSizes): Promise<void> {
  const { url: homeserverUrl, registrationSharedSecret } = ctx.homeserver;
  const { rooms: roomCount, rounds } = sizes;
  if (roomCount < 2) {
    throw new Error('room-list-live: the viewer needs at least 2 rooms');
  }
  ctx.log(`seeding: a viewer in ${roomCount} rooms, with a sender in each`);
  const [viewer, sender] = await registerUsers(homeserverUrl, registrationSharedSecret, 2, 'live');
  if (!viewer || !sender) {
    throw new Error('no users');
  }
  const seedAgent = newAgent();
  const rooms = await mapLimit(
    Array.from({ length: roomCount }, (_, index) => index),
    4,
    async (index) => {
      const roomId = await createRoom(
        seedAgent,
        homeserverUrl,
        viewer.accessToken,
        `Live ${index}`,
        'room-list-live',
      );
      await joinRoom(seedAgent, homeserverUrl, sender.accessToken, roomId);
      return roomId;
    },
  );

  const setupOf = (
    proxy: CountingProxy,
    subscriberUrl: string,
    cpuMs: () => number,
  ): LiveSetup => ({
    proxy,
    subscriberUrl,
    cpuMs,
    viewer,
    sender,
    rooms,
    seedAgent,
    homeserverUrl,
    rounds,
  });

  let facadeEnv: Readonly<Record<string, string>> = {};
  let facadeWarnings: string[] = [];
  let clusterWarnings: string[] = [];
  ctx.log('one facade instance');
  let single: LiveRun;
  {
    await using proxy = await startCountingProxy(homeserverUrl);
    await using facade = await startFacadeProcess(proxy.url, { WARM_VIEW_IDLE_MS: '60000' });
    single = await measure(
      setupOf(proxy, facade.url, () => facade.cpuMs()),
      ctx.log,
    );
    facadeEnv = facade.env;
    facadeWarnings = facade.warnings.slice(0, 20);
  }

  // Cluster mode: the viewer's loop runs on instance 0 (it is read there first), the subscriber
  // is on instance 1, whose view is fed through Redis.
  ctx.log(
    'cluster mode: two instances on a Redis of their own, the subscriber on the one without the loop',
  );
  let cluster: LiveRun;
  {
    await using redis = await startRedis();
    await using proxy = await startCountingProxy(homeserverUrl);
    const env = {
      WARM_VIEW_IDLE_MS: '60000',
      REDIS_URL: redis.url,
      CURSOR_SECRET: CLUSTER_SECRET,
      CLUSTER_LEASE_MS: '1000',
    };
    await using holder = await startFacadeProcess(proxy.url, { ...env, INSTANCE_ID: 'facade-0' });
    await using other = await startFacadeProcess(proxy.url, { ...env, INSTANCE_ID: 'facade-1' });
    await graphql(
      seedAgent,
      holder.url,
      viewer.accessToken,
      '{ rooms(first: 1) { edges { node { id } } } }',
    );
    const deadline = Date.now() + 10_000;
    while ((await loopHolder(redis.url, CLUSTER_SECRET, viewer.accessToken)) !== 0) {
      if (Date.now() > deadline) {
        throw new Error("room-list-live: instance 0 did not take the viewer's loop");
      }
      await sleep(100);
    }
    cluster = await measure(
      setupOf(proxy, other.url, () => holder.cpuMs() + other.cpuMs()),
      ctx.log,
    );
    if ((await loopHolder(redis.url, CLUSTER_SECRET, viewer.accessToken)) !== 0) {
      throw new Error('room-list-live: the loop moved during the rounds');
    }
    clusterWarnings = [...holder.warnings, ...other.warnings].slice(0, 20);
  }
  await seedAgent.close();

  const report = (run: LiveRun, label: string) => {
    const latencyMs = summarize(run.latencies);
    const allArrived = run.delivered === rounds && run.unmatched === 0;
    const target = {
      text:
        `${label}: a new message in any of the user's rooms reaches a roomList subscriber within ` +
        `${TARGET_MS} ms of the sync response (p99 ${latencyMs.p99.toFixed(1)} ms, p50 ` +
        `${latencyMs.p50.toFixed(1)} ms; ${run.delivered}/${rounds} pushes)`,
      met: allArrived && latencyMs.p99 <= TARGET_MS,
    };
    const row = [
      label,
      String(roomCount),
      `${run.delivered}/${rounds}`,
      ms(latencyMs.p50),
      ms(latencyMs.p90),
      ms(latencyMs.p99),
      ms(latencyMs.max),
      run.delivered === 0 ? '-' : (run.cpuMs / run.delivered).toFixed(2),
    ];
    const result = {
      firstPushMs: round(run.firstPushMs, 2),
      firstPage: run.firstPage,
      delivery: {
        rounds,
        pushes: run.delivered,
        pushesDuringRounds: run.pushesDuringRounds,
        unmatched: run.unmatched,
        latencyMs,
        perRound: run.perRound,
      },
      cpu: {
        ms: run.cpuMs,
        perPushMs: run.delivered === 0 ? null : round(run.cpuMs / run.delivered, 2),
        note: 'the facade children over the rounds, their sync loop included; 10 ms ticks',
      },
      upstreamCallsDuringRounds: run.upstreamCallsDuringRounds,
      errors: run.errors.slice(0, 50),
    };
    return { target, row, result, allArrived };
  };
  const singleReport = report(single, 'one instance');
  const clusterReport = report(cluster, 'cluster, via Redis');
  const targets = [singleReport.target, clusterReport.target];
  ctx.log(`\nroom-list-live: roomList(first: ${FIRST}), ${roomCount} rooms, ${rounds} rounds`);
  ctx.log(
    formatTable(
      ['facade', 'rooms', 'pushes', 'deliv p50', 'p90', 'p99', 'max', 'CPU ms/push'],
      [singleReport.row, clusterReport.row],
    ),
  );
  for (const target of targets) {
    ctx.log(`target: ${target.text}: ${target.met ? 'met' : 'NOT met'}`);
  }
  for (const [label, run] of [
    ['one instance', single],
    ['cluster', cluster],
  ] as const) {
    if (run.pushesDuringRounds !== run.delivered) {
      ctx.log(`(${label}: ${run.pushesDuringRounds} pushes during the rounds in all)`);
    }
    if (run.errors.length > 0) {
      ctx.log(`  ${label} errors (${run.errors.length}): ${run.errors.slice(0, 5).join('; ')}`);
    }
  }
  const path = await ctx.writeResult('room-list-live', {
    live: { rooms: roomCount, rounds, first: FIRST, pauseMs: PAUSE_MS },
    facadeEnvironment: facadeEnv,
    facadeWarnings,
    ...singleReport.result,
    cluster: { ...clusterReport.result, facadeWarnings: clusterWarnings },
    targets,
  });
  ctx.log(`wrote ${path}`);
  for (const [label, { allArrived }, run] of [
    ['one instance', singleReport, single],
    ['cluster', clusterReport, cluster],
  ] as const) {
    if (!allArrived) {
      throw new Error(
        `room-list-live (${label}): ${run.delivered}/${rounds} pushes, ${run.unmatched} unmatched; ` +
          run.errors.slice(0, 3).join('; '),
      );
    }
  }
}

interface LiveSetup {
  readonly proxy: CountingProxy;
  /** Where the subscriber connects. */
  readonly subscriberUrl: string;
  /** The CPU of the facade process(es) so far, in ms. */
  readonly cpuMs: () => number;
  readonly viewer: RegisteredUser;
  readonly sender: RegisteredUser;
  readonly rooms: readonly string[];
  readonly seedAgent: Agent;
  /** Where the sender sends, straight to the homeserver. */
  readonly homeserverUrl: string;
  readonly rounds: number;
}

type LiveRun = Awaited<ReturnType<typeof measure>>;

/**
 * One measurement: the viewer subscribes at `subscriberUrl`, and each round's message is timed
 * from the proxy receiving the `/sync` answer that carries it to the push showing its room first.
 */
async function measure(setup: LiveSetup, log: (line: string) => void) {
  const { proxy, subscriberUrl, viewer, sender, rooms, seedAgent, homeserverUrl, rounds } = setup;
  const facadeCpuMs = setup.cpuMs;
  const errors: string[] = [];
  const pushes: Push[] = [];
  let disposing = false;
  const wsUrl = `${subscriberUrl.replace(/^http/, 'ws')}/graphql`;
  const client: Client = await connect(wsUrl, viewer.accessToken, errors);
  const subscribedAt = performance.now();
  client.subscribe<{
    roomList: { hasMore: boolean; rooms: { id: string; name: string | null }[] };
  }>(
    { query: subscription, variables: { first: FIRST } },
    {
      next: ({ data, errors: pushErrors }) => {
        const at = performance.now();
        if (pushErrors !== undefined) {
          errors.push(`push: ${describe(pushErrors)}`);
        }
        if (data) {
          pushes.push({
            at,
            firstRoomId: data.roomList.rooms[0]?.id,
            rooms: data.roomList.rooms.length,
            hasMore: data.roomList.hasMore,
          });
        }
      },
      error: (error) => errors.push(`subscription: ${describe(error)}`),
      complete: () => {
        if (!disposing) {
          errors.push('subscription: completed by the server');
        }
      },
    },
  );
  const waitFor = async (what: string, done: () => boolean): Promise<boolean> => {
    const deadline = Date.now() + ROUND_TIMEOUT_MS;
    while (!done()) {
      if (Date.now() > deadline || errors.some((error) => error.startsWith('subscription'))) {
        errors.push(`${what}: no push after ${ROUND_TIMEOUT_MS / 1000} s`);
        return false;
      }
      await sleep(5);
    }
    return true;
  };
  if (!(await waitFor('first push', () => pushes.length > 0))) {
    throw new Error(`room-list-live: no first push; ${errors.slice(0, 3).join('; ')}`);
  }
  const firstPushMs = (pushes[0]?.at ?? Number.NaN) - subscribedAt;
  const firstPage = pushes[0];
  log(
    `first push after ${firstPushMs.toFixed(1)} ms: ${firstPage?.rooms} rooms, hasMore ` +
      `${firstPage?.hasMore}`,
  );
  // The view's long-poll in flight and nothing else going on before the first send.
  await waitUntilSubscribed(proxy, 1, errors, 'room-list-live');

  // When the viewer's /sync answers carrying each event reached the proxy.
  const seenAt = new Map<string, number>();
  const token = viewer.accessToken;
  proxy.syncObserver = (syncToken, body, receivedAt) => {
    if (syncToken !== token) {
      return;
    }
    for (const match of body.matchAll(/"event_id":"([^"]+)"/g)) {
      const eventId = match[1] as string;
      if (!seenAt.has(eventId)) {
        seenAt.set(eventId, receivedAt);
      }
    }
  };
  proxy.resetEndpoints();
  const cpuBefore = facadeCpuMs();
  const pushesBefore = pushes.length;
  const latencies: number[] = [];
  const perRound: { roomIndex: number; eventId: string; latencyMs: number | null }[] = [];
  let delivered = 0;
  let unmatched = 0;
  let top = firstPage?.firstRoomId;
  for (let roundIndex = 0; roundIndex < rounds; roundIndex++) {
    // A random room but the one shown first: the page has to change.
    const candidates = rooms.filter((roomId) => roomId !== top);
    const roomId = candidates[Math.floor(Math.random() * candidates.length)] as string;
    const from = pushes.length;
    const eventId = await sendText(
      seedAgent,
      homeserverUrl,
      sender.accessToken,
      roomId,
      `round ${roundIndex}`,
    );
    const pushOf = () => pushes.slice(from).find((push) => push.firstRoomId === roomId);
    const arrived = await waitFor(`round ${roundIndex}`, () => pushOf() !== undefined);
    const push = pushOf();
    const seen = seenAt.get(eventId);
    let latencyMs: number | null = null;
    if (arrived && push) {
      delivered += 1;
      top = roomId;
      if (seen === undefined) {
        unmatched += 1;
      } else {
        latencyMs = push.at - seen;
        latencies.push(latencyMs);
      }
    }
    perRound.push({
      roomIndex: rooms.indexOf(roomId),
      eventId,
      latencyMs: latencyMs === null ? null : round(latencyMs, 2),
    });
    await sleep(PAUSE_MS);
  }
  const cpuMs = facadeCpuMs() - cpuBefore;
  const pushesDuringRounds = pushes.length - pushesBefore;
  proxy.syncObserver = null;
  const upstreamCallsDuringRounds = Object.fromEntries(proxy.byEndpoint);
  disposing = true;
  await client.dispose();
  return {
    errors,
    firstPushMs,
    firstPage,
    delivered,
    unmatched,
    latencies,
    perRound,
    cpuMs,
    pushesDuringRounds,
    upstreamCallsDuringRounds,
  };
}
