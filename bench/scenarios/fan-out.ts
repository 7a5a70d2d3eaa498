/**
 * Scenario `fan-out`: many subscribers over many users. For each configuration (the issue: 1,000
 * subscribers over 100 users, 10,000 over 1,000), a fresh facade child is started with its caps
 * raised to allow the counts (printed), and every user opens one graphql-ws socket carrying its
 * share of `roomEvents(roomId:)` subscriptions to its room (users are grouped 10 to a room). Then:
 *
 * - long-polls: the `/sync` requests with a timeout in flight at the facade's counting proxy, once
 *   everything is subscribed (the facade should hold one per user) and at most during delivery;
 * - memory: the facade child's RSS (`/proc/<pid>/status`) before anyone connects, after each
 *   quarter of the users has subscribed, at most (sampled every 250 ms until the end), and after
 *   every socket closed and a settle period;
 * - delivery latency: a message is sent to every room (straight to the homeserver) in each of a few
 *   rounds; for every subscriber's frame, the time from the proxy receiving the homeserver's
 *   `/sync` response that carried the event (for that subscriber's user) to the frame arriving
 *   at the client. Same process, same clock (`performance.now()`); the bench's clients share
 *   their event loop with the proxy, so under a burst of frames this measures high, not low;
 *   and inside the facade, from its own `matrix_facade_event_delivery_seconds` histogram (read
 *   from `/metrics` before disconnecting): the parsed `/sync` answer to the frame handed to the
 *   websocket, which is what the issue's "internal delivery" target names.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from 'graphql-ws';
import { mapLimit, newAgent } from '../lib/client.ts';
import type { BenchContext, FanOutSize } from '../lib/context.ts';
import { startCountingProxy } from '../lib/counting-proxy.ts';
import { startFacadeProcess } from '../lib/facade-process.ts';
import { raisedCaps, subscriptionsPerUser } from '../lib/fan-out-load.ts';
import { histogramBound, histogramQuantile, readHistogram } from '../lib/prometheus-histogram.ts';
import { createRoom, joinRoom, type RegisteredUser, registerUsers, sendText } from '../lib/seed.ts';
import { round, summarize } from '../lib/stats.ts';
import { connect, describe, steadyLongPolls, waitUntilSubscribed } from '../lib/subscribers.ts';
import { lineChart } from '../lib/svg.ts';
import { formatTable, ms } from '../lib/table.ts';

/** Users per room. */
const ROOM_SIZE = 10;
/** How many sockets connect (and subscribe) at once. */
const CONNECT_PARALLEL = 50;
const MB = 1024 * 1024;

const subscription = `subscription ($roomId: ID!) {
  roomEvents(roomId: $roomId) { event { id } gap { room { id } } }
}`;

interface Frame {
  readonly token: string;
  readonly eventId: string;
  readonly at: number;
}

export async function fanOut(ctx: BenchContext): Promise<void> {
  const { url: homeserverUrl, registrationSharedSecret } = ctx.homeserver;
  const maxUsers = Math.max(...ctx.sizes.fanOut.map((size) => size.users));
  const roomCount = Math.ceil(maxUsers / ROOM_SIZE);
  ctx.log(
    `seeding: ${maxUsers} users (shared-secret registration; the bench homeserver's ` +
      `registration and join rate limits are relaxed), ${roomCount} rooms of up to ${ROOM_SIZE}`,
  );
  const seedStarted = performance.now();
  const [sender, ...users] = await registerUsers(
    homeserverUrl,
    registrationSharedSecret,
    maxUsers + 1,
    'fan',
    16,
  );
  if (!sender) {
    throw new Error('no users');
  }
  const seedAgent = newAgent();
  const rooms = await mapLimit(
    Array.from({ length: roomCount }, (_, index) => index),
    8,
    (index) => createRoom(seedAgent, homeserverUrl, sender.accessToken, `Fan ${index}`, 'fan-out'),
  );
  const roomOf = (userIndex: number) => rooms[Math.floor(userIndex / ROOM_SIZE)] ?? '';
  await mapLimit(users, 16, (user, index) =>
    joinRoom(seedAgent, homeserverUrl, user.accessToken, roomOf(index)),
  );
  ctx.log(`seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

  const results = [];
  for (const size of ctx.sizes.fanOut) {
    results.push(
      await runConfiguration(ctx, size, users.slice(0, size.users), roomOf, (roomId, body) =>
        sendText(seedAgent, homeserverUrl, sender.accessToken, roomId, body),
      ),
    );
  }
  await seedAgent.close();

  ctx.log('\nfan-out');
  ctx.log(
    formatTable(
      [
        'subscribers / users',
        'long-polls',
        'peak',
        'RSS base',
        'peak',
        'after',
        'frames',
        'deliv p50',
        'p90',
        'p99',
        'max',
        'internal p50',
        'p90',
        'p99',
      ],
      results.map((result) => [
        `${result.subscribers} / ${result.users}`,
        String(result.longPolls.steady),
        String(result.longPolls.peakDuringDelivery),
        `${(result.rssBytes.baseline / MB).toFixed(0)} MB`,
        `${(result.rssBytes.peak / MB).toFixed(0)} MB`,
        `${(result.rssBytes.afterDisconnect / MB).toFixed(0)} MB`,
        `${result.delivery.frames}/${result.delivery.expectedFrames}`,
        ms(result.delivery.latencyMs.p50),
        ms(result.delivery.latencyMs.p90),
        ms(result.delivery.latencyMs.p99),
        ms(result.delivery.latencyMs.max),
        ms(result.delivery.internal?.p50Ms ?? Number.NaN),
        ms(result.delivery.internal?.p90Ms ?? Number.NaN),
        ms(result.delivery.internal?.p99Ms ?? Number.NaN),
      ]),
    ),
  );
  for (const result of results) {
    for (const target of result.targets) {
      ctx.log(
        `target (${result.subscribers} / ${result.users}): ${target.text}: ${target.met ? 'met' : 'NOT met'}`,
      );
    }
  }
  const plot = await ctx.writePlot(
    'fan-out-rss',
    lineChart({
      title: 'Facade RSS by subscribers (graphql-ws roomEvents)',
      xLabel: 'subscribers',
      yLabel: 'RSS (MB)',
      series: results.map((result) => ({
        name: `${result.users} users`,
        points: result.rssSteps.map(
          ([subscribers, bytes]) => [subscribers, round(bytes / MB, 1)] as const,
        ),
      })),
    }),
  );
  const path = await ctx.writeResult('fan-out', { configurations: results });
  ctx.log(`wrote ${path} and ${plot}`);
}

async function runConfiguration(
  ctx: BenchContext,
  size: FanOutSize,
  users: readonly RegisteredUser[],
  roomOf: (userIndex: number) => string,
  send: (roomId: string, body: string) => Promise<string>,
) {
  const { subscribers } = size;
  const userCount = users.length;
  const perUser = subscriptionsPerUser(subscribers, userCount);
  const most = Math.max(...perUser);
  const facadeEnv = raisedCaps(most, userCount);
  ctx.log(
    `\nfan-out: ${subscribers} subscribers over ${userCount} users (${most} at most per user ` +
      `and socket); facade env ${Object.entries(facadeEnv)
        .map(([key, value]) => `${key}=${value}`)
        .join(' ')}`,
  );
  await using proxy = await startCountingProxy(ctx.homeserver.url);
  await using facade = await startFacadeProcess(proxy.url, facadeEnv);
  await sleep(1000);
  const baseline = facade.rssBytes();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, facade.rssBytes());
  }, 250);

  const frames: Frame[] = [];
  const errors: string[] = [];
  let gaps = 0;
  const clients: Client[] = [];
  const wsUrl = `${facade.url.replace(/^http/, 'ws')}/graphql`;
  const rssSteps: [number, number][] = [[0, baseline]];
  const steps = Math.min(4, userCount);
  const setupStarted = performance.now();
  let subscribed = 0;
  for (let step = 1; step <= steps; step++) {
    const from = Math.floor(((step - 1) * userCount) / steps);
    const to = Math.floor((step * userCount) / steps);
    const batch = users.slice(from, to).map((user, offset) => ({ user, index: from + offset }));
    await mapLimit(batch, CONNECT_PARALLEL, async ({ user, index }) => {
      const client = await connect(wsUrl, user.accessToken, errors);
      clients.push(client);
      for (let count = 0; count < (perUser[index] ?? 0); count++) {
        client.subscribe<{ roomEvents: { event: { id: string } | null; gap: unknown } }>(
          { query: subscription, variables: { roomId: roomOf(index) } },
          {
            next: ({ data }) => {
              const at = performance.now();
              const eventId = data?.roomEvents.event?.id;
              if (eventId !== undefined) {
                frames.push({ token: user.accessToken, eventId, at });
              } else {
                gaps += 1;
              }
            },
            error: (error) => errors.push(`subscription: ${describe(error)}`),
            complete: () => {},
          },
        );
      }
      subscribed += perUser[index] ?? 0;
    });
    await waitUntilSubscribed(proxy, to, errors);
    await sleep(500);
    rssSteps.push([subscribed, facade.rssBytes()]);
    ctx.log(
      `  ${subscribed} subscribed over ${to} users: RSS ${(facade.rssBytes() / MB).toFixed(0)} MB, ` +
        `${proxy.longPollsInFlight} long-polls`,
    );
  }
  const setupMs = performance.now() - setupStarted;
  const steady = await steadyLongPolls(proxy);
  const subscribeCalls = Object.fromEntries(proxy.byEndpoint);

  // Delivery: one message per room per round, straight to the homeserver.
  const seenAt = new Map<string, number>();
  proxy.syncObserver = (token, body, receivedAt) => {
    for (const match of body.matchAll(/"event_id":"([^"]+)"/g)) {
      const key = `${token} ${match[1]}`;
      if (!seenAt.has(key)) {
        seenAt.set(key, receivedAt);
      }
    }
  };
  const roomsInUse = [...new Set(users.map((_, index) => roomOf(index)))];
  const subscribersOfRoom = new Map<string, number>();
  users.forEach((_, index) => {
    const roomId = roomOf(index);
    subscribersOfRoom.set(roomId, (subscribersOfRoom.get(roomId) ?? 0) + (perUser[index] ?? 0));
  });
  const rounds = ctx.sizes.rounds;
  const expectedFrames = rounds * subscribers;
  const sent = new Set<string>();
  proxy.resetPeak();
  for (let roundIndex = 0; roundIndex < rounds; roundIndex++) {
    const target = (roundIndex + 1) * subscribers;
    const ids = await mapLimit(roomsInUse, 16, (roomId) => send(roomId, `round ${roundIndex}`));
    for (const id of ids) {
      sent.add(id);
    }
    const deadline = Date.now() + 60_000;
    while (frames.filter((frame) => sent.has(frame.eventId)).length < target) {
      if (Date.now() > deadline) {
        errors.push(`round ${roundIndex}: frames missing after 60 s`);
        break;
      }
      await sleep(50);
    }
    await sleep(500);
  }
  proxy.syncObserver = null;
  const peakDuringDelivery = proxy.peakLongPolls;
  const delivered = frames.filter((frame) => sent.has(frame.eventId));
  const latencies: number[] = [];
  let unmatched = 0;
  for (const frame of delivered) {
    const seen = seenAt.get(`${frame.token} ${frame.eventId}`);
    if (seen === undefined) {
      unmatched += 1;
    } else {
      latencies.push(frame.at - seen);
    }
  }
  const subscribedRss = facade.rssBytes();
  // Inside the facade: from its sync loop holding the parsed /sync answer to the frame handed to
  // the websocket, as its own histogram saw every delivery (docs/operations.md).
  const metrics = await fetch(`${facade.url}/metrics`).then((response) => response.text());
  const internalReading = readHistogram(metrics, 'matrix_facade_event_delivery_seconds');
  const internal =
    internalReading === null
      ? null
      : {
          count: internalReading.count,
          p50Ms: round(histogramQuantile(internalReading, 0.5) * 1000, 2),
          p90Ms: round(histogramQuantile(internalReading, 0.9) * 1000, 2),
          p99Ms: round(histogramQuantile(internalReading, 0.99) * 1000, 2),
          p99AtMostMs: histogramBound(internalReading, 0.99) * 1000,
          buckets: internalReading.buckets.map(([bound, cumulative]) => [
            Number.isFinite(bound) ? bound : '+Inf',
            cumulative,
          ]),
        };

  // Disconnect everyone, wait for the facade to stop its loops, let it settle.
  for (const client of clients) {
    await client.dispose();
  }
  const stopDeadline = Date.now() + 60_000;
  while (proxy.longPollsInFlight > 0 && Date.now() < stopDeadline) {
    await sleep(100);
  }
  const longPollsAfter = proxy.longPollsInFlight;
  await sleep(ctx.sizes.settleMs);
  const afterDisconnect = facade.rssBytes();
  // The peak covers the disconnect too: closing ten thousand subscriptions allocates as well.
  clearInterval(sampler);
  peak = Math.max(peak, afterDisconnect);
  await facade.stop();

  const delivery = {
    rounds,
    roomsPerRound: roomsInUse.length,
    expectedFrames,
    frames: delivered.length,
    unmatched,
    gaps,
    latencyMs: summarize(latencies),
    internal,
  };
  const rssBytes = { baseline, subscribed: subscribedRss, peak, afterDisconnect };
  const targets = [
    {
      text: `long-polls = distinct users (${steady} for ${userCount})`,
      met: steady === userCount,
    },
    {
      text: `RSS under 1 GiB (peak ${(peak / MB).toFixed(0)} MB)`,
      met: peak < 1024 * MB,
    },
    {
      text: `RSS back within 10 % of baseline after disconnect (${(afterDisconnect / MB).toFixed(0)} MB vs ${(baseline / MB).toFixed(0)} MB, ${ctx.sizes.settleMs} ms settle)`,
      met: afterDisconnect <= baseline * 1.1,
    },
    {
      text:
        internal === null
          ? 'internal delivery p99 < 50 ms (no histogram: metrics off?)'
          : `internal delivery p99 < 50 ms (${internal.p99Ms.toFixed(1)} ms, at most ` +
            `${internal.p99AtMostMs} ms by its bucket; ${internal.count} deliveries; ` +
            `end to end through the bench ${delivery.latencyMs.p99.toFixed(1)} ms)`,
      met: internal !== null && internal.p99AtMostMs <= 50 && delivered.length === expectedFrames,
    },
  ];
  if (errors.length > 0) {
    ctx.log(`  errors (${errors.length}): ${errors.slice(0, 5).join('; ')}`);
  }
  return {
    subscribers,
    users: userCount,
    subscriptionsPerUserMax: most,
    facadeEnvironment: facade.env,
    facadeWarnings: facade.warnings.slice(0, 20),
    setupMs: round(setupMs, 0),
    longPolls: { steady, peakDuringDelivery, afterDisconnect: longPollsAfter },
    upstreamCallsWhileSubscribing: subscribeCalls,
    rssBytes,
    rssSteps,
    delivery,
    errors: errors.slice(0, 50),
    targets,
  };
}
