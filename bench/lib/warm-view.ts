/**
 * Measuring a facade with warm room views (src/sync/warm-views.ts): its view's own sync loop
 * long-polls through the same counting proxy as its reads, so a read's upstream calls are the
 * proxy's requests other than those long-polls; and its `/metrics` tell warm hits from misses.
 */
import { request } from 'undici';
import type { CountingProxy } from './counting-proxy.ts';

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
