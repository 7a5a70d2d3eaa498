/**
 * Runs contenders interleaved, run by run: every run times each contender once, in a new random
 * order, after warm-up runs that are not kept. Random, not alternating (A B C, then C B A): what
 * runs just before a contender matters on two CPUs (a direct call leaves Synapse finishing its
 * work while the next contender runs), and in a fixed pattern one contender would always follow
 * Synapse's calls and another never; shuffled, each follows each alike over the runs. Each
 * contender's upstream calls are what its counting proxy received during its own run (contenders
 * never overlap).
 */
import type { CountingProxy } from './counting-proxy.ts';
import { round, type Summary, summarize } from './stats.ts';

export interface Contender {
  readonly name: string;
  /** Which comparison it belongs to (`without messages`…); the ratio is to that group's baseline. */
  readonly group: string;
  /** The direct call the group's ratios are taken to. */
  readonly baseline?: boolean;
  /** Counts its upstream calls; none for a contender with no upstream (the floors: 0 calls). */
  readonly proxy?: CountingProxy;
  /** The facade's CPU time so far (ms), for the facade contenders: CPU per request is reported. */
  readonly cpuMs?: () => number;
  /** One request (or the direct calls it stands for); resolves to the bytes the client received. */
  run(): Promise<number>;
}

export interface ContenderResult {
  readonly name: string;
  readonly group: string;
  readonly baseline: boolean;
  /** Upstream calls per run: the fewest and the most seen (equal when deterministic). */
  readonly upstreamCalls: { readonly min: number; readonly max: number };
  /** The upstream calls of the last run, per endpoint (`GET /_matrix/client/v3/sync`: 1). */
  readonly upstreamEndpoints: Readonly<Record<string, number>>;
  /** Bytes of response body the client received in one run (the median run). */
  readonly bytesToClient: number;
  readonly latencyMs: Summary;
  /** p50 over the group baseline's p50; 1 for the baseline itself. */
  readonly ratioP50: number | null;
  /** The facade's CPU time per run, ms (facade contenders only). */
  readonly cpuMsPerRequest: number | null;
}

export async function interleave(
  contenders: readonly Contender[],
  options: { runs: number; warmup: number },
): Promise<ContenderResult[]> {
  const samples = contenders.map(() => ({
    ms: [] as number[],
    calls: [] as number[],
    bytes: [] as number[],
    cpu: 0,
    endpoints: {} as Record<string, number>,
  }));
  for (let run = 0; run < options.warmup + options.runs; run++) {
    const order = shuffled(contenders.map((_, index) => index));
    for (const index of order) {
      const contender = contenders[index] as Contender;
      const sample = samples[index] as (typeof samples)[number];
      const callsBefore = contender.proxy?.requests ?? 0;
      const endpointsBefore = new Map(contender.proxy?.byEndpoint);
      const cpuBefore = contender.cpuMs?.() ?? 0;
      const started = performance.now();
      const bytes = await contender.run();
      const ms = performance.now() - started;
      if (run >= options.warmup) {
        sample.ms.push(ms);
        sample.calls.push((contender.proxy?.requests ?? 0) - callsBefore);
        sample.bytes.push(bytes);
        sample.cpu += (contender.cpuMs?.() ?? 0) - cpuBefore;
        sample.endpoints = Object.fromEntries(
          [...(contender.proxy?.byEndpoint ?? [])]
            .map(([endpoint, calls]) => [endpoint, calls - (endpointsBefore.get(endpoint) ?? 0)])
            .filter(([, calls]) => calls !== 0),
        );
      }
    }
  }
  const results = contenders.map((contender, index) => {
    const sample = samples[index] as (typeof samples)[number];
    const sortedBytes = [...sample.bytes].sort((a, b) => a - b);
    return {
      name: contender.name,
      group: contender.group,
      baseline: contender.baseline === true,
      upstreamCalls: { min: Math.min(...sample.calls), max: Math.max(...sample.calls) },
      upstreamEndpoints: sample.endpoints,
      bytesToClient: sortedBytes[Math.floor(sortedBytes.length / 2)] ?? 0,
      latencyMs: summarize(sample.ms),
      ratioP50: null as number | null,
      cpuMsPerRequest: contender.cpuMs ? round(sample.cpu / sample.ms.length) : null,
    };
  });
  return withRatios(results);
}

/** `items` in a random order (Fisher–Yates). */
function shuffled<T>(items: T[]): T[] {
  for (let index = items.length - 1; index > 0; index--) {
    const other = Math.floor(Math.random() * (index + 1));
    [items[index], items[other]] = [items[other] as T, items[index] as T];
  }
  return items;
}

/** Sets each result's `ratioP50` to its p50 over its group baseline's p50. */
export function withRatios<T extends { group: string; baseline: boolean; latencyMs: Summary }>(
  results: T[],
): (T & { ratioP50: number | null })[] {
  return results.map((result) => {
    const baseline = results.find((other) => other.group === result.group && other.baseline);
    return {
      ...result,
      ratioP50: baseline ? round(result.latencyMs.p50 / baseline.latencyMs.p50) : null,
    };
  });
}
