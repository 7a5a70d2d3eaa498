/**
 * `npm run bench`: the facade against the direct Client-Server calls it stands for, on the same
 * data, in the same run, interleaved, each behind its own counting proxy, after warm-up runs.
 * Starts its own Synapse (relaxed rate limits), seeds it, and runs the facade as a child process
 * (`node src/server/main.ts`) so that its CPU and memory are read from /proc for it alone.
 * Prints a table per scenario, writes `bench/results/<scenario>.json` and the SVG plots in
 * `docs/benchmarks/`. What each scenario measures and how: docs/benchmarks.md.
 *
 *   npm run bench                          every scenario at the sizes
 *   npm run bench -- --smoke               every scenario tiny (CI: test/integration/bench-smoke)
 *   npm run bench -- --only room-list      one scenario (repeat, or comma-separate, for more)
 *
 * Scenarios: room-list, room-page, cheap-query, fan-out, room-list-live. Sizes (flag, or
 * environment variable):
 *
 *   --rooms N          BENCH_ROOMS        rooms in the room list (50; smoke 3)
 *   --page-members N   BENCH_PAGE_MEMBERS members of the room page (20; smoke 3)
 *   --page-events N    BENCH_PAGE_EVENTS  messages of the room page (20; smoke 3)
 *   --runs N           BENCH_RUNS         timed runs per contender (30; smoke 3)
 *   --warmup N         BENCH_WARMUP       warm-up runs per contender, not kept (5; smoke 1)
 *   --requests N       BENCH_REQUESTS     cheap query: requests per contender and level (1000; smoke 20)
 *   --concurrency L    BENCH_CONCURRENCY  cheap query: levels, comma-separated (1,16,64; smoke 1,4)
 *   --fan-out L        BENCH_FAN_OUT      subscribers x users, comma-separated
 *                                         (1000x100,10000x1000; smoke 5x2)
 *   --rounds N         BENCH_ROUNDS       fan-out: message rounds for delivery latency (3; smoke 2)
 *   --settle-ms N      BENCH_SETTLE_MS    fan-out: wait after disconnecting before the RSS (15000; smoke 500)
 *   --live-rooms N     BENCH_LIVE_ROOMS   room-list-live: rooms of the viewer (50; smoke 5)
 *   --live-rounds N    BENCH_LIVE_ROUNDS  room-list-live: message rounds, one push each (30; smoke 3)
 *   --results-dir DIR                     where the JSON goes (bench/results; smoke bench/results/smoke)
 *   --plots-dir DIR                       where the SVGs go (docs/benchmarks; smoke: the results dir)
 *
 * With MATRIX_HOMESERVER_URL and MATRIX_REGISTRATION_SHARED_SECRET set (as for the tests), that
 * homeserver is used instead of a local one.
 */
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchContext, createContext, type FanOutSize, type Sizes } from './lib/context.ts';
import { commit, synapseVersion } from './lib/environment.ts';
import { benchHomeserver } from './lib/homeserver.ts';
import { cheapQuery } from './scenarios/cheap-query.ts';
import { fanOut } from './scenarios/fan-out.ts';
import { roomList } from './scenarios/room-list.ts';
import { type RoomListLiveSizes, roomListLive } from './scenarios/room-list-live.ts';
import { roomPage } from './scenarios/room-page.ts';

const scenarios: Record<string, (ctx: BenchContext) => Promise<void>> = {
  'room-list': roomList,
  'room-page': roomPage,
  'cheap-query': cheapQuery,
  'fan-out': fanOut,
  'room-list-live': (ctx) => roomListLive(ctx, liveSizes),
};

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    rooms: { type: 'string' },
    'page-members': { type: 'string' },
    'page-events': { type: 'string' },
    runs: { type: 'string' },
    warmup: { type: 'string' },
    requests: { type: 'string' },
    concurrency: { type: 'string' },
    'fan-out': { type: 'string' },
    rounds: { type: 'string' },
    'settle-ms': { type: 'string' },
    'live-rooms': { type: 'string' },
    'live-rounds': { type: 'string' },
    'results-dir': { type: 'string' },
    'plots-dir': { type: 'string' },
  },
});
const smoke = values.smoke === true;
const env = process.env;

/** A flag, else its environment variable, else the default (the smoke one with --smoke). */
function setting(flag: keyof typeof values, variable: string, full: string, tiny: string): string {
  const value = values[flag];
  return typeof value === 'string' ? value : (env[variable] ?? (smoke ? tiny : full));
}
function count(flag: keyof typeof values, variable: string, full: number, tiny: number): number {
  const text = setting(flag, variable, String(full), String(tiny));
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`--${String(flag)} / ${variable}: not a count: ${text}`);
  }
  return value;
}

const fanOutSizes: FanOutSize[] = setting('fan-out', 'BENCH_FAN_OUT', '1000x100,10000x1000', '5x2')
  .split(',')
  .map((pair) => {
    const [subscribers, users] = pair.split('x').map(Number);
    if (!subscribers || !users || users > subscribers) {
      throw new Error(`--fan-out: expected <subscribers>x<users>, users ≤ subscribers: ${pair}`);
    }
    return { subscribers, users };
  });
const sizes: Sizes = {
  rooms: count('rooms', 'BENCH_ROOMS', 50, 3),
  pageMembers: count('page-members', 'BENCH_PAGE_MEMBERS', 20, 3),
  pageEvents: count('page-events', 'BENCH_PAGE_EVENTS', 20, 3),
  runs: count('runs', 'BENCH_RUNS', 30, 3),
  warmup: count('warmup', 'BENCH_WARMUP', 5, 1),
  requests: count('requests', 'BENCH_REQUESTS', 1000, 20),
  concurrency: setting('concurrency', 'BENCH_CONCURRENCY', '1,16,64', '1,4')
    .split(',')
    .map(Number)
    .filter((level) => level > 0),
  fanOut: fanOutSizes,
  rounds: count('rounds', 'BENCH_ROUNDS', 3, 2),
  settleMs: count('settle-ms', 'BENCH_SETTLE_MS', 15_000, 500),
};
const liveSizes: RoomListLiveSizes = {
  rooms: count('live-rooms', 'BENCH_LIVE_ROOMS', 50, 5),
  rounds: count('live-rounds', 'BENCH_LIVE_ROUNDS', 30, 3),
};
const selected = (values.only ?? Object.keys(scenarios)).flatMap((name) => name.split(','));
for (const name of selected) {
  if (!(name in scenarios)) {
    throw new Error(`--only: no scenario ${name}; there are ${Object.keys(scenarios).join(', ')}`);
  }
}
const root = resolve(import.meta.dirname, '..');
const resultsDir = resolve(
  values['results-dir'] ?? resolve(root, smoke ? 'bench/results/smoke' : 'bench/results'),
);
const plotsDir = resolve(
  values['plots-dir'] ?? (smoke ? resultsDir : resolve(root, 'docs/benchmarks')),
);

// The homeserver: the one named in the environment, else a fresh local Synapse.
const local = await benchHomeserver(env);
const { url: homeserverUrl, sharedSecret } = local;
try {
  const ctx = createContext({
    homeserver: {
      url: homeserverUrl,
      registrationSharedSecret: sharedSecret,
      version: await synapseVersion(homeserverUrl),
    },
    sizes,
    smoke,
    environment: {
      date: new Date().toISOString(),
      node: process.version,
      synapse: await synapseVersion(homeserverUrl),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      loadAverage: loadavg().map((load) => Math.round(load * 100) / 100),
      commit: commit(root),
      smoke,
    },
    resultsDir,
    plotsDir,
  });
  ctx.log(
    `bench${smoke ? ' (smoke)' : ''}: ${selected.join(', ')}; Synapse ${ctx.environment.synapse} at ` +
      `${homeserverUrl}; node ${process.version}; ${ctx.environment.cpus} CPUs, load ` +
      `${ctx.environment.loadAverage.join(' ')}; results in ${resultsDir}`,
  );
  const failed: string[] = [];
  for (const name of selected) {
    const scenario = scenarios[name];
    if (!scenario) {
      continue;
    }
    ctx.log(`\n=== ${name}`);
    const started = performance.now();
    try {
      await scenario(ctx);
    } catch (error) {
      failed.push(name);
      process.stderr.write(
        `scenario ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    }
    ctx.log(`(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  if (failed.length > 0) {
    process.stderr.write(`failed: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  }
} finally {
  await local[Symbol.asyncDispose]();
}
