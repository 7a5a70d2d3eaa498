/**
 * `npm run bench:cluster`: one facade instance against a cluster of three sharing one sync loop per
 * access token through Redis (`REDIS_URL`), in one run, on the same homeserver and the same seeded
 * layout, each contender behind its own counting proxy in front of a real Synapse, with a real
 * Redis (scripts/redis/redis-server.ts). Every facade is a child process, so its RSS is its own.
 *
 * The workload is bench/scenarios/fan-out.ts's: users 10 to a room, each user's share of the
 * `roomEvents(roomId:)` subscriptions to its room. Against the single instance each user opens one
 * graphql-ws socket; against the cluster one socket per instance, its subscriptions dealt round
 * robin over them (subscription j of user i on instance (i + j) mod 3), so that every instance
 * carries a third and each user's updates reach two instances out of three through Redis. The two
 * contenders have their own users (the same count, the same rooms of 10): a message sent for one
 * reaches no socket of the other. Then:
 *
 * - long-polls: the `/sync` long-polls in flight at each contender's proxy once everything is
 *   subscribed (the cluster's proxy sees all three instances: their sum), which should equal the
 *   distinct users, and the most of any one token in flight at once (1: one loop per user);
 *   for the cluster, which instance holds each user's loop (its lease in Redis);
 * - memory: each facade's RSS once subscribed, and at most (sampled every 250 ms);
 * - delivery latency: rounds of one message to every room of a contender, interleaved round by
 *   round (single 1, cluster 1, single 2, …) so that noise hits both alike. For every frame, the
 *   time from the contender's proxy receiving the `/sync` response that carried the event to the
 *   frame at the client (same process, same clock); for the cluster split by whether the frame
 *   came through the instance holding the user's loop or through Redis. And inside each facade,
 *   its own `matrix_facade_event_delivery_seconds` over the rounds (read from `/metrics` before
 *   and after): on an instance receiving through Redis it starts when the Redis message arrives,
 *   so the Redis hop is in the end-to-end figure only.
 *
 *   npm run bench:cluster                      3000 subscribers over 300 users per contender
 *   npm run bench:cluster -- --smoke           30 over 6 (also BENCH_SMOKE=1)
 *   npm run bench:cluster -- --size 1200x120   any <subscribers>x<users> (BENCH_CLUSTER_SIZE)
 *
 *   --rounds N         BENCH_ROUNDS   message rounds per contender (3)
 *   --results-dir DIR                 where cluster.json goes (bench/results; smoke bench/results/smoke)
 *
 * With MATRIX_HOMESERVER_URL and MATRIX_REGISTRATION_SHARED_SECRET set (as for the tests), that
 * homeserver is used instead of a local Synapse.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { startRedis } from '../scripts/redis/redis-server.ts';
import { tokenKeys } from '../src/cluster/cluster-redis.ts';
import { tokenKey } from '../src/cluster/token-key.ts';
import { mapLimit, newAgent } from './lib/client.ts';
import { type CountingProxy, startCountingProxy } from './lib/counting-proxy.ts';
import { commit, redisVersion, synapseVersion } from './lib/environment.ts';
import { type FacadeProcess, startFacadeProcess } from './lib/facade-process.ts';
import { raisedCaps, subscriptionsPerUser } from './lib/fan-out-load.ts';
import { benchHomeserver } from './lib/homeserver.ts';
import {
  type HistogramReading,
  histogramBound,
  histogramQuantile,
  readHistogram,
} from './lib/prometheus-histogram.ts';
import { createRoom, joinRoom, type RegisteredUser, registerUsers, sendText } from './lib/seed.ts';
import { round, type Summary, summarize } from './lib/stats.ts';
import { connect, describe, steadyLongPolls, waitUntilSubscribed } from './lib/subscribers.ts';
import { formatTable, ms } from './lib/table.ts';

/** Users per room. */
const ROOM_SIZE = 10;
/** Facade processes of the cluster. */
const INSTANCES = 3;
/** How many users connect (and subscribe) at once. */
const CONNECT_PARALLEL = 50;
const MB = 1024 * 1024;
/** Any 48 characters, the same on every instance. */
const CURSOR_SECRET = 'bench-cluster-cursor-secret-0123456789-abcdefghi';
const HISTOGRAM = 'matrix_facade_event_delivery_seconds';

const subscription = `subscription ($roomId: ID!) {
  roomEvents(roomId: $roomId) { event { id } gap { room { id } } }
}`;

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    size: { type: 'string' },
    rounds: { type: 'string' },
    'results-dir': { type: 'string' },
  },
});
const env = process.env;
const smoke = values.smoke === true || env['BENCH_SMOKE'] === '1';
const sizeText = values.size ?? env['BENCH_CLUSTER_SIZE'] ?? (smoke ? '30x6' : '3000x300');
const [subscribers = 0, userCount = 0] = sizeText.split('x').map(Number);
if (
  !Number.isInteger(subscribers) ||
  !Number.isInteger(userCount) ||
  userCount < 1 ||
  userCount > subscribers
) {
  throw new Error(`--size: expected <subscribers>x<users>, users ≤ subscribers: ${sizeText}`);
}
const rounds = Number(values.rounds ?? env['BENCH_ROUNDS'] ?? 3);
if (!Number.isInteger(rounds) || rounds < 1) {
  throw new Error(`--rounds / BENCH_ROUNDS: not a count: ${rounds}`);
}
const root = resolve(import.meta.dirname, '..');
const resultsDir = resolve(
  values['results-dir'] ?? resolve(root, smoke ? 'bench/results/smoke' : 'bench/results'),
);

const started = performance.now();
const progress = (text: string) =>
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${text}\n`);
const out = (text = '') => process.stdout.write(`${text}\n`);

interface Frame {
  readonly token: string;
  readonly eventId: string;
  readonly instance: number;
  readonly at: number;
}

/** One side of the comparison: its proxy, its facades, its users, what its clients received. */
interface Contender {
  readonly name: 'single' | 'cluster';
  readonly proxy: CountingProxy;
  readonly facades: readonly FacadeProcess[];
  readonly users: readonly RegisteredUser[];
  readonly rooms: readonly string[];
  readonly clients: Client[];
  readonly frames: Frame[];
  readonly errors: string[];
  /** Token + event ID → when the proxy received the `/sync` response that carried it. */
  readonly seenAt: Map<string, number>;
  readonly sent: Set<string>;
  gaps: number;
  peakRss: number[];
  roundMs: number[];
}

// --- homeserver, Redis ---------------------------------------------------------------------------

await using stack = new AsyncDisposableStack();
progress('the homeserver');
const { url: homeserverUrl, sharedSecret } = stack.use(await benchHomeserver(env));
progress('starting Redis');
const redis = await startRedis();
stack.defer(() => redis.stop());
const environment = {
  date: new Date().toISOString(),
  node: process.version,
  synapse: await synapseVersion(homeserverUrl),
  redis: redisVersion(),
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  loadAverage: loadavg().map((load) => round(load, 2)),
  commit: commit(root),
  smoke,
};
out(
  `bench:cluster${smoke ? ' (smoke)' : ''}: ${subscribers} subscribers over ${userCount} users, ` +
    `single instance vs ${INSTANCES}; ${rounds} rounds each, interleaved; Synapse ` +
    `${environment.synapse} at ${homeserverUrl}; Redis ${environment.redis} at ${redis.url}; node ` +
    `${process.version}; ${environment.cpus} CPUs, load ${environment.loadAverage.join(' ')}`,
);

// --- seeding: two sets of users, the same layout ---------------------------------------------------

const roomCount = Math.ceil(userCount / ROOM_SIZE);
progress(
  `seeding: ${2 * userCount + 1} users, ${2 * roomCount} rooms of up to ${ROOM_SIZE} ` +
    `(${userCount} users and ${roomCount} rooms per contender)`,
);
const seedStarted = performance.now();
const [sender, ...allUsers] = await registerUsers(
  homeserverUrl,
  sharedSecret,
  2 * userCount + 1,
  'cluster',
  16,
);
if (!sender) {
  throw new Error('no users');
}
const seedAgent = newAgent();
stack.defer(() => seedAgent.close());
const allRooms = await mapLimit(
  Array.from({ length: 2 * roomCount }, (_, index) => index),
  8,
  (index) =>
    createRoom(seedAgent, homeserverUrl, sender.accessToken, `Cluster ${index}`, 'bench-cluster'),
);
const roomOf = (rooms: readonly string[], userIndex: number) =>
  rooms[Math.floor(userIndex / ROOM_SIZE)] ?? '';
const layouts = [0, 1].map((side) => ({
  users: allUsers.slice(side * userCount, (side + 1) * userCount),
  rooms: allRooms.slice(side * roomCount, (side + 1) * roomCount),
}));
await mapLimit(
  layouts.flatMap(({ users, rooms }) => users.map((user, index) => ({ user, index, rooms }))),
  16,
  ({ user, index, rooms }) =>
    joinRoom(seedAgent, homeserverUrl, user.accessToken, roomOf(rooms, index)),
);
progress(`seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

// --- the facades -------------------------------------------------------------------------------

const perUser = subscriptionsPerUser(subscribers, userCount);
const most = Math.max(...perUser);
// fan-out.ts's raised caps, for the most any one instance carries: the single instance all of it.
const facadeEnv = { ...raisedCaps(most, userCount), LOG_LEVEL: 'info' };
const clusterEnv = { ...facadeEnv, REDIS_URL: redis.url, CURSOR_SECRET };
out(
  `facade env ${describeEnv(facadeEnv)}; cluster adds REDIS_URL CURSOR_SECRET (48 chars) ` +
    `INSTANCE_ID=facade-<i>, CLUSTER_LEASE_MS default`,
);
progress(`starting 1 + ${INSTANCES} facades`);
const singleProxy = stack.use(await startCountingProxy(homeserverUrl));
const clusterProxy = stack.use(await startCountingProxy(homeserverUrl));
// Every facade that started is stopped at the end, also when another one failed to start.
const starting = await Promise.allSettled([
  startFacadeProcess(singleProxy.url, facadeEnv),
  ...Array.from({ length: INSTANCES }, (_, index) =>
    startFacadeProcess(clusterProxy.url, { ...clusterEnv, INSTANCE_ID: `facade-${index}` }),
  ),
]);
const [singleFacade, ...clusterFacades] = starting.map((result) =>
  result.status === 'fulfilled' ? stack.use(result.value) : null,
);
const failedStart = starting.find((result) => result.status === 'rejected');
if (failedStart || !singleFacade || clusterFacades.some((facade) => facade === null)) {
  throw failedStart?.reason ?? new Error('a facade did not start');
}
const contenders: Contender[] = [
  newContender('single', singleProxy, [singleFacade], layouts[0]),
  newContender('cluster', clusterProxy, clusterFacades as FacadeProcess[], layouts[1]),
];
stack.defer(async () => {
  for (const contender of contenders) {
    await Promise.all(contender.clients.map((client) => client.dispose()));
  }
});
await sleep(1000);
const baselineRss = contenders.map((contender) => contender.facades.map((f) => f.rssBytes()));
const sampler = setInterval(() => {
  for (const contender of contenders) {
    contender.peakRss = contender.facades.map((facade, index) =>
      Math.max(contender.peakRss[index] ?? 0, facade.running ? facade.rssBytes() : 0),
    );
  }
}, 250);
stack.defer(() => clearInterval(sampler));

// --- subscribing -------------------------------------------------------------------------------

/** Per contender, once subscribed. */
const subscribed: {
  setupMs: number;
  steady: number;
  peakPerTokenWhileSubscribing: number;
  rss: number[];
}[] = [];
for (const contender of contenders) {
  progress(`${contender.name}: subscribing`);
  const setupStarted = performance.now();
  await subscribeAll(contender);
  await waitUntilSubscribed(contender.proxy, userCount, contender.errors, contender.name);
  if (contender.name === 'cluster') {
    // Let every instance note its listeners in Redis and the leases settle.
    await sleep(3500);
  }
  const setupMs = performance.now() - setupStarted;
  const steady = await steadyLongPolls(contender.proxy);
  subscribed.push({
    setupMs: round(setupMs, 0),
    steady,
    peakPerTokenWhileSubscribing: contender.proxy.peakLongPollsPerToken,
    rss: contender.facades.map((facade) => facade.rssBytes()),
  });
  progress(
    `${contender.name}: ${subscribers} subscribed over ${userCount} users in ` +
      `${(setupMs / 1000).toFixed(1)} s, ${steady} long-polls`,
  );
}
const holdersBefore = await loopHolders(contenders[1] as Contender);
for (const contender of contenders) {
  contender.proxy.resetPeak();
  contender.proxy.syncObserver = (token, body, receivedAt) => {
    for (const match of body.matchAll(/"event_id":"([^"]+)"/g)) {
      const key = `${token} ${match[1]}`;
      if (!contender.seenAt.has(key)) {
        contender.seenAt.set(key, receivedAt);
      }
    }
  };
}
const metricsBefore = await Promise.all(contenders.map(readMetrics));

// --- delivery: rounds interleaved --------------------------------------------------------------

for (let roundIndex = 0; roundIndex < rounds; roundIndex++) {
  for (const contender of contenders) {
    const roundStarted = performance.now();
    await deliveryRound(contender, roundIndex);
    contender.roundMs.push(round(performance.now() - roundStarted, 0));
    progress(`${contender.name} round ${roundIndex + 1}: ${contender.roundMs.at(-1)} ms`);
  }
}
const metricsAfter = await Promise.all(contenders.map(readMetrics));
const holdersAfter = await loopHolders(contenders[1] as Contender);
const results = contenders.map((contender, side) => {
  contender.proxy.syncObserver = null;
  const holders = side === 1 ? holdersAfter : null;
  const delivered = contender.frames.filter((frame) => contender.sent.has(frame.eventId));
  const latencies: number[] = [];
  const local: number[] = [];
  const viaRedis: number[] = [];
  const byInstance = contender.facades.map(() => [] as number[]);
  let unmatched = 0;
  for (const frame of delivered) {
    const seen = contender.seenAt.get(`${frame.token} ${frame.eventId}`);
    if (seen === undefined) {
      unmatched += 1;
      continue;
    }
    const latency = frame.at - seen;
    latencies.push(latency);
    byInstance[frame.instance]?.push(latency);
    if (holders !== null) {
      (holders.get(frame.token) === frame.instance ? local : viaRedis).push(latency);
    }
  }
  const setup = subscribed[side] as (typeof subscribed)[number];
  const instances = contender.facades.map((facade, index) => ({
    instance: side === 0 ? 'single' : `facade-${index}`,
    pid: facade.pid,
    loopsHeld:
      holders === null
        ? userCount
        : [...holders.values()].filter((holder) => holder === index).length,
    rssBytes: {
      baseline: baselineRss[side]?.[index] ?? 0,
      subscribed: setup.rss[index] ?? 0,
      peak: contender.peakRss[index] ?? 0,
    },
    frames: byInstance[index]?.length ?? 0,
    latencyMs: summarize(byInstance[index] ?? []),
    internal: internalDelivery(
      metricsBefore[side]?.[index] ?? null,
      metricsAfter[side]?.[index] ?? null,
    ),
    warnings: facade.warnings.slice(0, 20),
  }));
  return {
    contender: contender.name,
    instances: contender.facades.length,
    subscribers,
    users: userCount,
    rooms: contender.rooms.length,
    subscriptionsPerUserMax: most,
    facadeEnvironment: contender.facades[0]?.env ?? {},
    setupMs: setup.setupMs,
    longPolls: {
      steady: setup.steady,
      peakDuringDelivery: contender.proxy.peakLongPolls,
      peakPerToken: contender.proxy.peakLongPollsPerToken,
      peakPerTokenWhileSubscribing: setup.peakPerTokenWhileSubscribing,
    },
    loopHolders:
      side === 1
        ? { beforeRounds: countHolders(holdersBefore), afterRounds: countHolders(holdersAfter) }
        : null,
    delivery: {
      rounds,
      roomsPerRound: contender.rooms.length,
      expectedFrames: rounds * subscribers,
      frames: delivered.length,
      unmatched,
      gaps: contender.gaps,
      roundMs: contender.roundMs,
      latencyMs: summarize(latencies),
      localLatencyMs: holders === null ? null : summarize(local),
      viaRedisLatencyMs: holders === null ? null : summarize(viaRedis),
    },
    instanceFigures: instances,
    errors: contender.errors.slice(0, 50),
  };
});

// --- report ------------------------------------------------------------------------------------

const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;
const latencyCells = (summary: Summary | null) =>
  summary === null ? ['-', '-'] : [ms(summary.p50), ms(summary.p99)];
const rows: string[][] = [];
for (const result of results) {
  const figures = result.instanceFigures;
  const internal = figures.map((figure) => figure.internal);
  rows.push([
    `${result.contender} (${result.instances})`,
    String(result.longPolls.steady),
    String(result.longPolls.peakPerToken),
    String(result.longPolls.peakDuringDelivery),
    figures.map((figure) => figure.loopsHeld).join('/'),
    figures.map((figure) => mb(figure.rssBytes.subscribed)).join(' / '),
    figures.map((figure) => mb(figure.rssBytes.peak)).join(' / '),
    `${result.delivery.frames}/${result.delivery.expectedFrames}`,
    ...latencyCells(result.delivery.latencyMs),
    internal.map((reading) => ms(reading?.p50Ms ?? Number.NaN)).join(' / '),
    internal.map((reading) => ms(reading?.p99Ms ?? Number.NaN)).join(' / '),
  ]);
  if (result.delivery.localLatencyMs && result.delivery.viaRedisLatencyMs) {
    for (const [name, summary] of [
      ['  at the loop holder', result.delivery.localLatencyMs],
      ['  through Redis', result.delivery.viaRedisLatencyMs],
    ] as const) {
      rows.push([
        name,
        '',
        '',
        '',
        '',
        '',
        '',
        String(summary.n),
        ...latencyCells(summary),
        '',
        '',
      ]);
    }
  }
}
out(`\ncluster: ${subscribers} subscribers over ${userCount} users per contender`);
out(
  formatTable(
    [
      'contender (instances)',
      'long-polls',
      'per token',
      'peak',
      'loops held',
      'RSS subscribed',
      'RSS peak',
      'frames',
      'deliv p50',
      'p99',
      'internal p50',
      'p99',
    ],
    rows,
  ),
);
out(
  'long-polls: in flight at the contender proxy once subscribed (target: = users); per token: the ' +
    'most of one token at once since then (target: 1); deliv: proxy receipt of /sync to client ' +
    'frame, ms; internal: matrix_facade_event_delivery_seconds per instance, ms (through Redis it ' +
    'starts at the Redis message)',
);
for (const result of results) {
  const targets = [
    [
      `long-polls = distinct users (${result.longPolls.steady} for ${userCount})`,
      result.longPolls.steady === userCount,
    ],
    [`per-token peak = 1 (${result.longPolls.peakPerToken})`, result.longPolls.peakPerToken === 1],
    [
      `every frame delivered (${result.delivery.frames}/${result.delivery.expectedFrames}, ${result.delivery.gaps} gaps)`,
      result.delivery.frames === result.delivery.expectedFrames && result.delivery.gaps === 0,
    ],
  ] as const;
  for (const [text, met] of targets) {
    out(`target (${result.contender}): ${text}: ${met ? 'met' : 'NOT met'}`);
  }
  if (result.errors.length > 0) {
    out(
      `errors (${result.contender}, ${result.errors.length}): ${result.errors.slice(0, 5).join('; ')}`,
    );
  }
}
await mkdir(resultsDir, { recursive: true });
const resultPath = join(resultsDir, 'cluster.json');
await writeFile(
  resultPath,
  `${JSON.stringify(
    {
      scenario: 'cluster',
      environment,
      sizes: { subscribers, users: userCount, rounds, instances: INSTANCES, roomSize: ROOM_SIZE },
      contenders: results,
    },
    null,
    2,
  )}\n`,
);
out(`wrote ${resultPath}`);
progress('stopping');

// --- helpers -----------------------------------------------------------------------------------

function newContender(
  name: Contender['name'],
  proxy: CountingProxy,
  facades: readonly FacadeProcess[],
  layout: { users: RegisteredUser[]; rooms: string[] } | undefined,
): Contender {
  return {
    name,
    proxy,
    facades,
    users: layout?.users ?? [],
    rooms: layout?.rooms ?? [],
    clients: [],
    frames: [],
    errors: [],
    seenAt: new Map(),
    sent: new Set(),
    gaps: 0,
    peakRss: facades.map(() => 0),
    roundMs: [],
  };
}

/**
 * Every user's subscriptions: on the single instance one socket per user; on the cluster one per
 * instance, subscription j of user i on instance (i + j) mod the instances.
 */
async function subscribeAll(contender: Contender): Promise<void> {
  const { facades, users, rooms } = contender;
  const wsUrls = facades.map((facade) => `${facade.url.replace(/^http/, 'ws')}/graphql`);
  await mapLimit(users, CONNECT_PARALLEL, async (user, index) => {
    const count = perUser[index] ?? 0;
    const shares = facades.map(() => 0);
    for (let each = 0; each < count; each++) {
      const instance = (index + each) % facades.length;
      shares[instance] = (shares[instance] ?? 0) + 1;
    }
    await Promise.all(
      shares.map(async (share, instance) => {
        if (share === 0) {
          return;
        }
        const client = await connect(wsUrls[instance] ?? '', user.accessToken, contender.errors);
        contender.clients.push(client);
        for (let each = 0; each < share; each++) {
          client.subscribe<{ roomEvents: { event: { id: string } | null; gap: unknown } }>(
            { query: subscription, variables: { roomId: roomOf(rooms, index) } },
            {
              next: ({ data }) => {
                const at = performance.now();
                const eventId = data?.roomEvents.event?.id;
                if (eventId !== undefined) {
                  contender.frames.push({ token: user.accessToken, eventId, instance, at });
                } else {
                  contender.gaps += 1;
                }
              },
              error: (error) => contender.errors.push(`subscription: ${describe(error)}`),
              complete: () => {},
            },
          );
        }
      }),
    );
  });
}

/** One message to every room of `contender`, straight to the homeserver; waits for every frame. */
async function deliveryRound(contender: Contender, roundIndex: number): Promise<void> {
  const target = (roundIndex + 1) * subscribers;
  const ids = await mapLimit(contender.rooms, 16, (roomId) =>
    sendText(
      seedAgent,
      homeserverUrl as string,
      sender?.accessToken ?? '',
      roomId,
      `round ${roundIndex}`,
    ),
  );
  for (const id of ids) {
    contender.sent.add(id);
  }
  const deadline = Date.now() + 60_000;
  while (contender.frames.filter((frame) => contender.sent.has(frame.eventId)).length < target) {
    if (Date.now() > deadline) {
      contender.errors.push(`round ${roundIndex}: frames missing after 60 s`);
      break;
    }
    await sleep(50);
  }
  await sleep(500);
}

/** Each of the contender's facades' `/metrics` text (null where it could not be read). */
function readMetrics(contender: Contender): Promise<(string | null)[]> {
  return Promise.all(
    contender.facades.map((facade) =>
      fetch(`${facade.url}/metrics`)
        .then((response) => response.text())
        .catch(() => null),
    ),
  );
}

/** The delivery histogram's observations between two readings of `/metrics`. */
function internalDelivery(before: string | null, after: string | null) {
  const end = after === null ? null : readHistogram(after, HISTOGRAM);
  if (end === null) {
    return null;
  }
  const start = before === null ? null : readHistogram(before, HISTOGRAM);
  const startOf = new Map(start?.buckets ?? []);
  const reading: HistogramReading = {
    count: end.count - (start?.count ?? 0),
    buckets: end.buckets.map(([bound, cumulative]) => [
      bound,
      cumulative - (startOf.get(bound) ?? 0),
    ]),
  };
  if (reading.count === 0) {
    return null;
  }
  return {
    count: reading.count,
    p50Ms: round(histogramQuantile(reading, 0.5) * 1000, 2),
    p90Ms: round(histogramQuantile(reading, 0.9) * 1000, 2),
    p99Ms: round(histogramQuantile(reading, 0.99) * 1000, 2),
    p99AtMostMs: histogramBound(reading, 0.99) * 1000,
  };
}

/** Which cluster instance holds each user's loop (its lease in Redis), by access token. */
async function loopHolders(contender: Contender): Promise<Map<string, number | null>> {
  const reader = new Redis(redis.url);
  const keyOf = tokenKey(CURSOR_SECRET);
  try {
    const holders = await reader.mget(
      contender.users.map((user) => tokenKeys(keyOf(user.accessToken)).lease),
    );
    return new Map(
      contender.users.map((user, index) => {
        const match = /^facade-(\d+)\//.exec(holders[index] ?? '');
        return [user.accessToken, match ? Number(match[1]) : null];
      }),
    );
  } finally {
    reader.disconnect();
  }
}

function countHolders(holders: ReadonlyMap<string, number | null>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const holder of holders.values()) {
    const name = holder === null ? 'none' : `facade-${holder}`;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

function describeEnv(variables: Record<string, string>): string {
  return Object.entries(variables)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}
