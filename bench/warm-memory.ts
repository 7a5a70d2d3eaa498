/**
 * `npm run bench:warm-memory`: what one warm user costs the facade. U users are seeded in groups
 * of ~6 (`--members`); each group shares R rooms of its own (every user is in R rooms of ~6
 * members, 10 messages each). One facade child runs with warm room views kept for 10 min
 * (`WARM_VIEW_IDLE_MS=600000`, `WARM_VIEW_MAX_VIEWS=10000`) behind a counting proxy. Its RSS is
 * read (the median of a few samples after 2 s of quiet: the child cannot be GC'd from outside)
 * before any view; then the users are warmed one by one (each reads its room list until a read
 * costs no upstream call other than the view's own `GET /sync`), and after every quarter of the
 * users the views gauge, the view bytes gauge (`matrix_facade_warm_view_bytes`), the RSS and the
 * long-polls in flight (one per warm user) are recorded.
 *
 *   npm run bench:warm-memory                  40 users, 50 rooms each; bench/results/warm-memory.json
 *   npm run bench:warm-memory -- --smoke       4 users, 5 rooms each; bench/results/smoke/warm-memory.json
 *   npm run bench:warm-memory -- --users N --rooms R --members M
 *
 * Starts its own Synapse unless MATRIX_HOMESERVER_URL and MATRIX_REGISTRATION_SHARED_SECRET are
 * set.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { graphql, mapLimit, newAgent } from './lib/client.ts';
import { startCountingProxy } from './lib/counting-proxy.ts';
import { commit, synapseVersion } from './lib/environment.ts';
import { startFacadeProcess } from './lib/facade-process.ts';
import { benchHomeserver } from './lib/homeserver.ts';
import { type RegisteredUser, registerUsers, seedRoom } from './lib/seed.ts';
import { formatTable } from './lib/table.ts';
import { warmViewReads, withoutSyncLoop } from './lib/warm-view.ts';

const ROOM_LIST = /* GraphQL */ `
  query WarmMemoryRoomList {
    rooms(first: 50) {
      edges {
        node {
          id
          name
        }
      }
    }
  }
`;

interface RoomListData {
  rooms: { edges: { node: { id: string; name: string | null } }[] };
}

/** One measurement: after `usersWarm` users were warmed. */
export interface MemoryPoint {
  readonly usersWarm: number;
  /** `matrix_facade_warm_views`. */
  readonly views: number;
  /** `matrix_facade_warm_view_bytes`. */
  readonly viewBytes: number;
  /** Median of the RSS samples, bytes. */
  readonly rssBytes: number;
  readonly rssSamples: readonly number[];
  /** `/sync` long-polls in flight at the proxy. */
  readonly longPolls: number;
}

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

/** A gauge without labels from the facade's `/metrics` (0 when absent). */
async function gauges(facadeUrl: string): Promise<{ views: number; viewBytes: number }> {
  const response = await request(`${facadeUrl}/metrics`);
  const text = await response.body.text();
  if (response.statusCode !== 200) {
    throw new Error(`${facadeUrl}/metrics: HTTP ${response.statusCode}`);
  }
  const read = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    views: read('matrix_facade_warm_views'),
    viewBytes: read('matrix_facade_warm_view_bytes'),
  };
}

/** Splits `items` into `count` groups of near-equal size, in order. */
function groupsOf<T>(items: readonly T[], count: number): T[][] {
  const groups: T[][] = Array.from({ length: count }, () => []);
  items.forEach((item, index) => {
    groups[index % count]?.push(item);
  });
  return groups;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

export function memoryTable(points: readonly MemoryPoint[]): string {
  const base = points[0];
  if (!base) {
    return '';
  }
  return formatTable(
    [
      'users warm',
      'views',
      'view bytes',
      'view bytes/user',
      'RSS',
      'RSS delta',
      'RSS delta/user',
      'long-polls',
    ],
    points.map((point) => {
      const delta = point.rssBytes - base.rssBytes;
      const perUser = (value: number) =>
        point.usersWarm > 0 ? value / point.usersWarm : Number.NaN;
      return [
        String(point.usersWarm),
        String(point.views),
        kb(point.viewBytes),
        point.usersWarm > 0 ? kb(perUser(point.viewBytes)) : '-',
        mb(point.rssBytes),
        mb(delta),
        point.usersWarm > 0 ? mb(perUser(delta)) : '-',
        String(point.longPolls),
      ];
    }),
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      users: { type: 'string' },
      rooms: { type: 'string' },
      members: { type: 'string' },
      'results-dir': { type: 'string' },
    },
  });
  const smoke = values.smoke ?? false;
  const userCount = Number(values.users ?? (smoke ? 4 : 40));
  const roomsEach = Number(values.rooms ?? (smoke ? 5 : 50));
  const members = Number(values.members ?? 6);
  if (![userCount, roomsEach, members].every((value) => Number.isInteger(value) && value > 0)) {
    throw new Error('--users, --rooms and --members must be positive integers');
  }
  if (roomsEach > 50) {
    throw new Error('--rooms above 50 would not fit one rooms(first: 50) read');
  }
  const root = resolve(import.meta.dirname, '..');
  const resultsDir = resolve(
    values['results-dir'] ?? resolve(root, smoke ? 'bench/results/smoke' : 'bench/results'),
  );
  const local = await benchHomeserver();
  const { url: homeserverUrl, sharedSecret } = local;
  const agent = newAgent();
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const environment = {
      date: new Date().toISOString(),
      node: process.version,
      synapse: await synapseVersion(homeserverUrl),
      commit: commit(root),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      loadAverage: loadavg().map((load) => Math.round(load * 100) / 100),
    };
    console.log(
      `warm memory${smoke ? ' (smoke)' : ''}: ${userCount} users, ${roomsEach} rooms each of ~${members} members; ` +
        `Synapse ${environment.synapse}; node ${process.version}; ${environment.cpus} CPUs, load ${environment.loadAverage.join(' ')}`,
    );

    // Seeding: groups of ~`members` users, each group sharing `roomsEach` rooms of its own.
    const seedStarted = performance.now();
    const users = await registerUsers(homeserverUrl, sharedSecret, userCount, 'wmem');
    const groups = groupsOf(users, Math.max(1, Math.ceil(userCount / members)));
    const tasks: { group: RegisteredUser[]; groupIndex: number; room: number }[] = [];
    groups.forEach((group, groupIndex) => {
      for (let room = 0; room < roomsEach; room++) {
        tasks.push({ group, groupIndex, room });
      }
    });
    const url = homeserverUrl;
    await mapLimit(tasks, 8, ({ group, groupIndex, room }) =>
      seedRoom(agent, url, group, {
        name: `group ${groupIndex} room ${room}`,
        topic: 'warm memory',
        messages: 10,
      }),
    );
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    console.log(
      `seeded ${users.length} users in ${groups.length} groups (${groups.map((group) => group.length).join('/')} members), ` +
        `${tasks.length} rooms, in ${seedSeconds.toFixed(1)} s`,
    );

    const proxy = await startCountingProxy(homeserverUrl);
    cleanups.push(() => proxy.close());
    const counter = withoutSyncLoop(proxy);
    const facade = await startFacadeProcess(proxy.url, {
      WARM_VIEW_IDLE_MS: '600000',
      WARM_VIEW_MAX_VIEWS: '10000',
    });
    cleanups.unshift(() => facade.stop());

    const measure = async (usersWarm: number): Promise<MemoryPoint> => {
      await sleep(2000);
      const rssSamples: number[] = [];
      for (let sample = 0; sample < 5; sample++) {
        rssSamples.push(facade.rssBytes());
        await sleep(200);
      }
      const { views, viewBytes } = await gauges(facade.url);
      const point: MemoryPoint = {
        usersWarm,
        views,
        viewBytes,
        rssBytes: median(rssSamples),
        rssSamples,
        longPolls: proxy.longPollsInFlight,
      };
      console.log(
        `  ${usersWarm} warm: ${views} views, ${kb(viewBytes)} view bytes, RSS ${mb(point.rssBytes)}, ${point.longPolls} long-polls`,
      );
      return point;
    };

    const points: MemoryPoint[] = [await measure(0)];
    const readsBefore = await warmViewReads(facade.url);
    const checkpoints = new Set(
      [1, 2, 3, 4].map((quarter) => Math.max(1, Math.round((userCount * quarter) / 4))),
    );
    const readsToWarm: number[] = [];
    const maxReads = 60;
    for (const [index, user] of users.entries()) {
      let reads = 0;
      for (;;) {
        const before = counter.requests;
        const { body } = await graphql<RoomListData>(
          agent,
          facade.url,
          user.accessToken,
          ROOM_LIST,
        );
        reads += 1;
        const calls = counter.requests - before;
        if (body.rooms.edges.length !== roomsEach) {
          throw new Error(
            `user ${index}: ${body.rooms.edges.length} rooms listed, expected ${roomsEach}`,
          );
        }
        if (calls === 0) {
          break;
        }
        if (reads >= maxReads) {
          throw new Error(`user ${index}: still ${calls} upstream calls after ${reads} reads`);
        }
        await sleep(100);
      }
      readsToWarm.push(reads);
      if (checkpoints.has(index + 1)) {
        points.push(await measure(index + 1));
      }
    }
    const readsAfter = await warmViewReads(facade.url);
    const warmViewReadsMetric = Object.fromEntries(
      Object.entries(readsAfter).map(([outcome, value]) => [
        outcome,
        value - (readsBefore[outcome] ?? 0),
      ]),
    );

    const table = memoryTable(points);
    const last = points.at(-1) as MemoryPoint;
    const base = points[0] as MemoryPoint;
    // Past the first quarter: the first views also pay for code paths first run (JIT, caches).
    const first = points[1] as MemoryPoint;
    const marginalRss =
      last.usersWarm > first.usersWarm
        ? (last.rssBytes - first.rssBytes) / (last.usersWarm - first.usersWarm)
        : Number.NaN;
    console.log('');
    console.log(table);
    console.log('');
    console.log(
      `reads to warm a user: ${readsToWarm.join(' ')}; matrix_facade_warm_view_reads_total deltas: ${
        Object.entries(warmViewReadsMetric)
          .map(([outcome, value]) => `${outcome} ${value}`)
          .join(', ') || 'none'
      }`,
    );
    console.log(
      `per warm user in ${roomsEach} rooms: ${kb(last.viewBytes / last.usersWarm)} of view bytes, ` +
        `${mb((last.rssBytes - base.rssBytes) / last.usersWarm)} of RSS ` +
        `(${mb(marginalRss)} per user past the first ${first.usersWarm})`,
    );
    if (facade.warnings.length > 0) {
      console.log(`facade warnings: ${facade.warnings.length}`);
      for (const warning of facade.warnings.slice(0, 5)) {
        console.log(`  ${warning.slice(0, 300)}`);
      }
    }
    await mkdir(resultsDir, { recursive: true });
    const file = resolve(resultsDir, 'warm-memory.json');
    await writeFile(
      file,
      `${JSON.stringify(
        {
          environment,
          sizes: {
            users: userCount,
            roomsPerUser: roomsEach,
            groups: groups.map((group) => group.length),
            rooms: tasks.length,
            messagesPerRoom: 10,
          },
          seedSeconds: Math.round(seedSeconds * 10) / 10,
          facadeEnv: facade.env,
          points,
          perUser: {
            viewBytes: last.viewBytes / last.usersWarm,
            rssBytes: (last.rssBytes - base.rssBytes) / last.usersWarm,
            rssBytesPastFirstQuarter: Number.isFinite(marginalRss) ? marginalRss : null,
          },
          readsToWarm,
          warmViewReadsMetric,
          facadeWarnings: facade.warnings,
          table,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`wrote ${file}`);
  } finally {
    for (const cleanup of cleanups) {
      await cleanup().catch((error: unknown) => console.error(error));
    }
    await agent.close();
    await local[Symbol.asyncDispose]();
  }
}
