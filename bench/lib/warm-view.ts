/**
 * Measuring a facade with warm room views (src/sync/warm-views.ts): its view's own sync loop
 * long-polls through the same counting proxy as its reads, so a read's upstream calls are the
 * proxy's requests other than those long-polls; and its `/metrics` tell warm hits from misses.
 * What a scenario with a warm contender does around its timed runs is here too: warm the view,
 * check the warm answers against the cold facade's, check every timed read was a hit, and the
 * issue's warm target (p50 ≤ 2 ms, no upstream call).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { CountingProxy } from './counting-proxy.ts';
import type { ContenderResult } from './interleave.ts';

/** The warm contender's name in every scenario; the cold facade's is `facade`. */
export const WARM_CONTENDER = 'facade, warm view';

/** Reads of the warm facade before timing, at most, until its view answers one with no call. */
const WARMING_READS = 50;

/** The issue's bound on a warm read's p50 (ms). */
const WARM_P50_MS = 2;

/** `GET …/v3/sync` (or r0): the sync loop's requests, never a room list read's. */
function isSyncLoopEndpoint(endpoint: string): boolean {
  return /^GET \/_matrix\/client\/[^/]+\/sync$/.test(endpoint);
}

/**
 * The proxy as a contender's counter that leaves out the sync loop's `GET /sync` requests (the
 * warm view's snapshot and long-polls): every other request a read makes counts, a sliding sync
 * (`POST …/sync`, the cold plan's call) included, so a read the view missed is never counted as
 * free. `nonSyncRequests` would leave that sliding sync out too. Reads only: the counts are the
 * proxy's own (do not call `resetEndpoints` on it while this is in use).
 */
export function withoutSyncLoop(proxy: CountingProxy): CountingProxy {
  const loopRequests = () => {
    let count = 0;
    for (const [endpoint, calls] of proxy.byEndpoint) {
      if (isSyncLoopEndpoint(endpoint)) {
        count += calls;
      }
    }
    return count;
  };
  return {
    get url() {
      return proxy.url;
    },
    get requests() {
      return proxy.requests - loopRequests();
    },
    get nonSyncRequests() {
      return proxy.nonSyncRequests;
    },
    get byEndpoint() {
      return new Map([...proxy.byEndpoint].filter(([endpoint]) => !isSyncLoopEndpoint(endpoint)));
    },
    get longPollsInFlight() {
      return proxy.longPollsInFlight;
    },
    get peakLongPolls() {
      return proxy.peakLongPolls;
    },
    get peakLongPollsPerToken() {
      return proxy.peakLongPollsPerToken;
    },
    resetPeak: () => proxy.resetPeak(),
    get longPollObserver() {
      return proxy.longPollObserver;
    },
    set longPollObserver(value) {
      proxy.longPollObserver = value;
    },
    resetEndpoints: () => proxy.resetEndpoints(),
    get syncObserver() {
      return proxy.syncObserver;
    },
    set syncObserver(value) {
      proxy.syncObserver = value;
    },
    callsOf: (requestId) => proxy.callsOf(requestId),
    endpointsOf: (requestId) => proxy.endpointsOf(requestId),
    close: () => proxy.close(),
    [Symbol.asyncDispose]: () => proxy.close(),
  };
}

/** `matrix_facade_warm_view_reads_total` by outcome (`hit`, `cold`, `warming`, `writing`). */
export async function warmViewReads(facadeUrl: string): Promise<Record<string, number>> {
  const response = await request(`${facadeUrl}/metrics`);
  const text = await response.body.text();
  if (response.statusCode !== 200) {
    throw new Error(`${facadeUrl}/metrics: HTTP ${response.statusCode}`);
  }
  const reads: Record<string, number> = {};
  for (const match of text.matchAll(
    /^matrix_facade_warm_view_reads_total\{outcome="([^"]+)"\} (\S+)$/gm,
  )) {
    reads[match[1] as string] = Number(match[2]);
  }
  return reads;
}

/**
 * Reads with `read` until one costs `proxy` (a {@link withoutSyncLoop} counter) no upstream call:
 * the first read starts the view (or, before the token is known good, only checks it), the next
 * ones are answered cold while its snapshot comes in. Throws after {@link WARMING_READS} reads.
 * Returns how many reads it took, the free one included.
 */
export async function warmUntilFree(
  scenario: string,
  proxy: CountingProxy,
  read: () => Promise<unknown>,
): Promise<number> {
  for (let reads = 1; ; reads++) {
    const before = proxy.requests;
    await read();
    if (proxy.requests === before) {
      return reads;
    }
    if (reads >= WARMING_READS) {
      throw new Error(
        `${scenario}: the warm facade's view did not answer in ${WARMING_READS} reads`,
      );
    }
    await sleep(100);
  }
}

/** One query asked of both facades, for {@link expectWarmAsCold}. */
export interface WarmColdPair {
  /** Names the query in errors (`summary`, `with latest message`…). */
  readonly label: string;
  /** The cold facade's answer, as it will be compared. */
  cold(): Promise<unknown>;
  /** The warm facade's answer, normalised the same way. */
  warm(): Promise<unknown>;
}

/**
 * Checks, before timing, that each query's warm answer is the same JSON as the cold facade's, and
 * that the warm read made no upstream call (`proxy`: a {@link withoutSyncLoop} counter). Throws
 * with both answers (cut to 2,000 characters) when they differ, or with the count of calls.
 */
export async function expectWarmAsCold(
  scenario: string,
  proxy: CountingProxy,
  pairs: readonly WarmColdPair[],
): Promise<void> {
  for (const { label, cold, warm } of pairs) {
    const coldAnswer = JSON.stringify(await cold());
    const before = proxy.requests;
    const warmAnswer = JSON.stringify(await warm());
    const calls = proxy.requests - before;
    if (warmAnswer !== coldAnswer) {
      throw new Error(
        `${scenario}: the warm facade's answer (${label}) differs from the cold one's:\n` +
          `cold: ${coldAnswer.slice(0, 2000)}\nwarm: ${warmAnswer.slice(0, 2000)}`,
      );
    }
    if (calls !== 0) {
      throw new Error(`${scenario}: a warm read (${label}) made ${calls} upstream calls`);
    }
  }
}

/**
 * The warm facade's `matrix_facade_warm_view_reads_total` since `before`, checked to be
 * `expectedHits` hits and nothing else: every timed (and warm-up) read was answered by the view.
 * A miss would cost an upstream call, counted anyway; this names it.
 */
export async function expectOnlyHits(
  scenario: string,
  facadeUrl: string,
  before: Readonly<Record<string, number>>,
  expectedHits: number,
): Promise<Record<string, number>> {
  const after = await warmViewReads(facadeUrl);
  const reads = Object.fromEntries(
    Object.entries(after).map(([outcome, count]) => [outcome, count - (before[outcome] ?? 0)]),
  );
  const misses = Object.entries(reads).filter(
    ([outcome, count]) => outcome !== 'hit' && count !== 0,
  );
  if (reads['hit'] !== expectedHits || misses.length > 0) {
    throw new Error(
      `${scenario}: the warm facade's timed reads were not all hits (${expectedHits} expected): ` +
        JSON.stringify(reads),
    );
  }
  return reads;
}

/** The issue's warm target, checked on one warm contender's results. */
export interface WarmTarget {
  readonly group: string;
  readonly text: string;
  /** No upstream call in any run. */
  readonly calls: boolean;
  /** p50 ≤ 2 ms, interleaved with the others (each run after someone else's). */
  readonly fast: boolean;
  /** Its p50 hot, in a burst of its own (bench/lib/idle-cost.ts): reported, not the target. */
  readonly hotP50Ms: number;
  /** No upstream call, and p50 ≤ 2 ms interleaved: the target as the bench reads it. */
  readonly met: boolean;
}

/**
 * The issue's target for the warm contender of `group` (`what` names the read, e.g. `warm room
 * page`): p50 ≤ 2 ms and 0 upstream calls in every run. Met only interleaved; its p50 hot
 * (`hotP50Ms`, from the same run's idle cost) is reported beside it.
 */
export function warmReadTarget(
  scenario: string,
  results: readonly ContenderResult[],
  group: string,
  what: string,
  hotP50Ms: number,
): WarmTarget {
  const warm = results.find((result) => result.group === group && result.name === WARM_CONTENDER);
  if (!warm) {
    throw new Error(`${scenario}: the warm contender of ${group} missing`);
  }
  const calls = warm.upstreamCalls.max === 0;
  const fast = warm.latencyMs.p50 <= WARM_P50_MS;
  return {
    group,
    text:
      `${what}: p50 ≤ ${WARM_P50_MS} ms (${warm.latencyMs.p50.toFixed(2)}; ` +
      `hot, in a burst: ${hotP50Ms.toFixed(2)}), 0 upstream calls (${warm.upstreamCalls.max})`,
    calls,
    fast,
    hotP50Ms,
    met: calls && fast,
  };
}
