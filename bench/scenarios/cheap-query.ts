/**
 * Scenario `cheap-query`: what the facade adds to one cheap upstream call. `{ viewer { userId } }`
 * through the facade (one `whoami` upstream) against `GET /account/whoami` straight to the
 * homeserver:
 *
 * - sequentially: one request at a time, facade and direct strictly alternating;
 * - at each concurrency level (1, 16, 64): closed loops of that many clients, in blocks that
 *   alternate between the contenders (A B A B …, one warm-up block each first). Throughput is the
 *   requests of a contender's blocks over their wall time; the facade's CPU per request is its
 *   process's utime + stime (`/proc/<pid>/stat`) over its blocks, divided by their requests.
 *
 * The concurrent clients use one token each (up to 64 users), as many users would: the facade
 * bounds the upstream calls in flight per token (UPSTREAM_PER_TOKEN_CONCURRENCY), which a single
 * token's 64 parallel requests would measure instead.
 */
import type { Agent } from 'undici';
import { graphql, matrix } from '../lib/client.ts';
import type { BenchContext } from '../lib/context.ts';
import type { CountingProxy } from '../lib/counting-proxy.ts';
import { interleave } from '../lib/interleave.ts';
import { cpuResolutionMs } from '../lib/proc.ts';
import { registerUsers } from '../lib/seed.ts';
import { startSideBySide } from '../lib/side-by-side.ts';
import { round, type Summary, summarize } from '../lib/stats.ts';
import { lineChart } from '../lib/svg.ts';
import { contenderTable, formatTable, ms } from '../lib/table.ts';

const BLOCKS = 10;

interface LevelContender {
  readonly name: string;
  readonly proxy: CountingProxy;
  readonly cpuMs?: () => number;
  call(agent: Agent, token: string): Promise<number>;
}

interface LevelResult {
  readonly name: string;
  readonly concurrency: number;
  readonly requests: number;
  readonly upstreamCallsPerRequest: number;
  readonly latencyMs: Summary;
  readonly throughputPerSecond: number;
  readonly cpuMsPerRequest: number | null;
}

export async function cheapQuery(ctx: BenchContext): Promise<void> {
  const { url: homeserverUrl, registrationSharedSecret } = ctx.homeserver;
  const { requests, concurrency, warmup } = ctx.sizes;
  const tokensNeeded = Math.min(64, Math.max(...concurrency));
  const users = await registerUsers(homeserverUrl, registrationSharedSecret, tokensNeeded, 'cheap');
  const tokens = users.map((user) => user.accessToken);

  await using sides = await startSideBySide(homeserverUrl);
  const { facade, facadeProxy, directProxy, facadeAgent, directAgent } = sides;
  const viaFacade: LevelContender = {
    name: 'facade',
    proxy: facadeProxy,
    cpuMs: () => facade.cpuMs(),
    call: async (agent, token) =>
      (await graphql(agent, facade.url, token, '{ viewer { userId } }')).bytes,
  };
  const direct: LevelContender = {
    name: 'whoami direct',
    proxy: directProxy,
    call: async (agent, token) =>
      (await matrix(agent, directProxy.url, token, 'GET', '/_matrix/client/v3/account/whoami'))
        .bytes,
  };
  const token = tokens[0] ?? '';

  ctx.log(`sequential: ${Math.max(50, warmup)} warm-up + ${requests} requests each, alternating`);
  const sequential = await interleave(
    [
      {
        name: 'facade',
        group: 'sequential',
        proxy: facadeProxy,
        cpuMs: () => facade.cpuMs(),
        run: () => viaFacade.call(facadeAgent, token),
      },
      {
        name: 'whoami direct',
        group: 'sequential',
        baseline: true,
        proxy: directProxy,
        run: () => direct.call(directAgent, token),
      },
    ],
    { runs: requests, warmup: Math.max(50, warmup) },
  );
  ctx.log(`\ncheap-query, sequential\n${contenderTable(sequential)}`);

  const levels: LevelResult[] = [];
  for (const level of concurrency) {
    ctx.log(`concurrency ${level}: ${requests} requests per contender in ${BLOCKS} blocks`);
    levels.push(
      ...(await runLevel([viaFacade, direct], level, requests, tokens, {
        facade: facadeAgent,
        direct: directAgent,
      })),
    );
  }

  const levelRows = levels.map((result) => {
    const baseline = levels.find(
      (other) => other.concurrency === result.concurrency && other.name === direct.name,
    );
    return [
      String(result.concurrency),
      result.name,
      String(result.upstreamCallsPerRequest),
      ms(result.latencyMs.p50),
      ms(result.latencyMs.p90),
      ms(result.latencyMs.p99),
      result.throughputPerSecond.toFixed(0),
      baseline ? `${(result.latencyMs.p50 / baseline.latencyMs.p50).toFixed(2)}x` : '-',
      baseline ? ms(result.latencyMs.p50 - baseline.latencyMs.p50) : '-',
      result.cpuMsPerRequest === null ? '-' : result.cpuMsPerRequest.toFixed(3),
    ];
  });
  ctx.log(`\ncheap-query, closed loops (CPU from /proc, ${cpuResolutionMs} ms ticks)`);
  ctx.log(
    formatTable(
      [
        'in flight',
        'contender',
        'upstream/req',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'req/s',
        'ratio p50',
        'added p50',
        'CPU ms/req',
      ],
      levelRows,
    ),
  );

  const [seqFacade, seqDirect] = sequential;
  if (!seqFacade || !seqDirect) {
    throw new Error('cheap-query: results missing');
  }
  const addedP50 = seqFacade.latencyMs.p50 - seqDirect.latencyMs.p50;
  const cpu = seqFacade.cpuMsPerRequest ?? Number.NaN;
  const concurrentCpu = levels
    .filter((result) => result.cpuMsPerRequest !== null)
    .map((result) => `${result.concurrency}: ${result.cpuMsPerRequest?.toFixed(3)}`)
    .join(', ');
  const targets = [
    {
      text: `facade CPU ≤ 0.3 ms per request (sequential ${cpu.toFixed(3)} ms; by concurrency ${concurrentCpu})`,
      cpuMsPerRequest: cpu,
      met: cpu <= 0.3,
    },
    {
      text: `added p50 ≤ 0.5 ms (sequential ${addedP50.toFixed(2)} ms)`,
      addedP50Ms: addedP50,
      met: addedP50 <= 0.5,
    },
  ];
  for (const target of targets) {
    ctx.log(`target: ${target.text}: ${target.met ? 'met' : 'NOT met'}`);
  }

  const series = (name: string, pick: (summary: Summary) => number, dashed: boolean) => ({
    name: `${name} ${dashed ? 'p99' : 'p50'}`,
    dashed,
    colour: name === 'facade' ? 0 : 1,
    points: levels
      .filter((result) => result.name === name)
      .map((result) => [result.concurrency, round(pick(result.latencyMs), 2)] as const),
  });
  const plot = await ctx.writePlot(
    'cheap-query-latency',
    lineChart({
      title: `{ viewer { userId } } vs whoami: latency by concurrency (${ctx.environment.cpus} CPUs)`,
      xLabel: 'requests in flight',
      yLabel: 'latency (ms)',
      logX: true,
      series: [
        series('facade', (summary) => summary.p50, false),
        series('whoami direct', (summary) => summary.p50, false),
        series('facade', (summary) => summary.p99, true),
        series('whoami direct', (summary) => summary.p99, true),
      ],
    }),
  );
  const path = await ctx.writeResult('cheap-query', {
    parameters: { requests, concurrency, blocks: BLOCKS, tokens: tokens.length },
    facadeEnvironment: facade.env,
    facadeWarnings: facade.warnings,
    cpuResolutionMs,
    contenders: sequential,
    levels,
    targets,
  });
  ctx.log(`wrote ${path} and ${plot}`);
}

/**
 * One concurrency level: a warm-up block per contender, then BLOCKS blocks each, alternating,
 * every block `requests / BLOCKS` requests by `level` closed-loop clients.
 */
async function runLevel(
  contenders: readonly LevelContender[],
  level: number,
  requests: number,
  tokens: readonly string[],
  agents: { facade: Agent; direct: Agent },
): Promise<LevelResult[]> {
  const blocks = Math.min(BLOCKS, requests);
  const perBlock = Math.max(level, Math.ceil(requests / blocks));
  const state = contenders.map(() => ({ ms: [] as number[], wall: 0, cpu: 0, calls: 0, count: 0 }));
  for (let block = -1; block < blocks; block++) {
    const order = block % 2 === 0 ? [...contenders.keys()] : [...contenders.keys()].reverse();
    for (const index of order) {
      const contender = contenders[index] as LevelContender;
      const agent = contender.name === 'facade' ? agents.facade : agents.direct;
      const latencies: number[] = [];
      let next = 0;
      const callsBefore = contender.proxy.requests;
      const cpuBefore = contender.cpuMs?.() ?? 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: level }, async (_, client) => {
          const token = tokens[client % tokens.length] ?? '';
          while (next < perBlock) {
            next++;
            const begin = performance.now();
            await contender.call(agent, token);
            latencies.push(performance.now() - begin);
          }
        }),
      );
      const wall = performance.now() - started;
      if (block >= 0) {
        const entry = state[index] as (typeof state)[number];
        entry.ms.push(...latencies);
        entry.wall += wall;
        entry.cpu += (contender.cpuMs?.() ?? 0) - cpuBefore;
        entry.calls += contender.proxy.requests - callsBefore;
        entry.count += latencies.length;
      }
    }
  }
  return contenders.map((contender, index) => {
    const entry = state[index] as (typeof state)[number];
    return {
      name: contender.name,
      concurrency: level,
      requests: entry.count,
      upstreamCallsPerRequest: round(entry.calls / entry.count),
      latencyMs: summarize(entry.ms),
      throughputPerSecond: round((entry.count / entry.wall) * 1000, 1),
      cpuMsPerRequest: contender.cpuMs ? round(entry.cpu / entry.count) : null,
    };
  });
}
