/**
 * A counting HTTP proxy in front of the homeserver, one per contender: it forwards every request
 * unchanged and counts them (in all and per endpoint), the `/sync` long-polls in flight, and, when
 * asked, reports each `/sync` response as it arrives from the homeserver (for delivery latency).
 * Every contender goes through one, so each pays the same extra loopback hop.
 *
 * With `recordRequestIds`, it also counts the requests it forwards per `X-Request-Id`: the facade
 * sends each GraphQL operation's request ID upstream with every call that operation makes
 * (src/matrix/http.ts), so a read sent with its own ID made exactly as many upstream calls as the
 * proxy counted under that ID, whatever else (a sync loop, other writes) goes upstream at the same
 * time (the warm-view soak, bench/warm-soak.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Forward, startForwardingProxy } from './forwarding-proxy.ts';

/**
 * Called with each `/sync` response body the homeserver sent, the bearer token of its request,
 * `performance.now()` when its last byte arrived at the proxy (before it is passed on) and the
 * request's path and query (its `since`).
 */
export type SyncObserver = (token: string, body: string, receivedAt: number, url: string) => void;

export interface CountingProxyOptions {
  /**
   * Keep, per `X-Request-Id`, the endpoints of the requests that carried it, for
   * {@link CountingProxy.callsOf} and {@link CountingProxy.endpointsOf}. Off by default: they are
   * kept for the proxy's whole life, one entry per GraphQL operation.
   * @default false
   */
  readonly recordRequestIds?: boolean;
}

export interface CountingProxy extends AsyncDisposable {
  /** The proxy's base URL, to use as the homeserver URL. */
  readonly url: string;
  /** Requests received so far. */
  readonly requests: number;
  /** Requests received so far other than `/sync` (initial syncs and long-polls). */
  readonly nonSyncRequests: number;
  /** Requests received so far per endpoint (`GET /_matrix/client/v3/rooms/{id}/state`…). */
  readonly byEndpoint: ReadonlyMap<string, number>;
  /** `/sync` requests with a `timeout` above 0 that have not been answered yet. */
  readonly longPollsInFlight: number;
  /** The most long-polls in flight at once since the last {@link resetPeak}. */
  readonly peakLongPolls: number;
  /**
   * The most long-polls of any one token in flight at once since the last {@link resetPeak}:
   * 1 when each user's stream has one loop, whichever instance runs it.
   */
  readonly peakLongPollsPerToken: number;
  resetPeak(): void;
  /** Told of each long-poll as it starts, with its bearer token and `performance.now()`. */
  longPollObserver: ((token: string, startedAt: number) => void) | null;
  /** Forgets the per-endpoint counts (the total keeps counting). */
  resetEndpoints(): void;
  /** Receives `/sync` responses while set; `null` stops it (bodies are then not kept at all). */
  syncObserver: SyncObserver | null;
  /**
   * Requests received so far that carried `X-Request-Id: requestId` (0 when none did).
   * Throws unless the proxy was started with `recordRequestIds`.
   */
  callsOf(requestId: string): number;
  /**
   * The endpoints (`GET /_matrix/client/v3/rooms/!abc:hs/state`, IDs left in) those requests went
   * to, in order. Throws unless the proxy was started with `recordRequestIds`.
   */
  endpointsOf(requestId: string): readonly string[];
  close(): Promise<void>;
}

/** `GET /_matrix/client/v3/rooms/{id}/state`: the path with IDs and tokens blanked. */
export function endpointOf(method: string, url: string): string {
  const path = url.split('?')[0] ?? '';
  const shape = path
    .split('/')
    .map((segment) => (/^(%21|%40|%24|%23|[!@$#])/i.test(segment) ? '{id}' : segment))
    .join('/');
  return `${method} ${shape}`;
}

function isLongPoll(url: string): boolean {
  if (!/\/sync(\?|$)/.test(url)) {
    return false;
  }
  const timeout = /[?&]timeout=(\d+)/.exec(url);
  return timeout !== null && Number(timeout[1]) > 0;
}

export async function startCountingProxy(
  targetUrl: string,
  options: CountingProxyOptions = {},
): Promise<CountingProxy> {
  let requests = 0;
  let syncRequests = 0;
  let byEndpoint = new Map<string, number>();
  let longPolls = 0;
  let peak = 0;
  const perToken = new Map<string, number>();
  let peakPerToken = 0;
  let observer: SyncObserver | null = null;
  let longPollObserver: ((token: string, startedAt: number) => void) | null = null;
  const byRequestId = options.recordRequestIds ? new Map<string, string[]>() : null;
  const ofRequestId = (requestId: string): readonly string[] => {
    if (byRequestId === null) {
      throw new Error('startCountingProxy keeps request IDs only with { recordRequestIds: true }');
    }
    return byRequestId.get(requestId) ?? [];
  };

  const handle = (req: IncomingMessage, res: ServerResponse, forward: Forward): void => {
    requests += 1;
    const url = req.url ?? '/';
    const method = req.method ?? 'GET';
    const endpoint = endpointOf(method, url);
    byEndpoint.set(endpoint, (byEndpoint.get(endpoint) ?? 0) + 1);
    const requestId = req.headers['x-request-id'];
    if (byRequestId !== null && typeof requestId === 'string') {
      const endpoints = byRequestId.get(requestId) ?? [];
      endpoints.push(`${method} ${url.split('?')[0] ?? ''}`);
      byRequestId.set(requestId, endpoints);
    }
    const isSync = /\/sync(\?|$)/.test(url);
    if (isSync) {
      syncRequests += 1;
    }
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (isLongPoll(url)) {
      longPolls += 1;
      peak = Math.max(peak, longPolls);
      const ofToken = (perToken.get(token) ?? 0) + 1;
      perToken.set(token, ofToken);
      peakPerToken = Math.max(peakPerToken, ofToken);
      longPollObserver?.(token, performance.now());
      res.once('close', () => {
        longPolls -= 1;
        const left = (perToken.get(token) ?? 1) - 1;
        if (left === 0) {
          perToken.delete(token);
        } else {
          perToken.set(token, left);
        }
      });
    }
    forward(req, res, {
      observe: (reply) => {
        // Decided when the answer starts, not when the request came: a long-poll sent before
        // the observer was set still carries the events that arrive after.
        if (isSync && observer !== null && reply.headers['content-encoding'] === undefined) {
          const chunks: Buffer[] = [];
          reply.on('data', (chunk: Buffer) => chunks.push(chunk));
          reply.on('end', () => {
            const receivedAt = performance.now();
            observer?.(token, Buffer.concat(chunks).toString('utf8'), receivedAt, url);
          });
        }
      },
    });
  };

  const proxy = await startForwardingProxy(targetUrl, handle);
  return {
    url: proxy.url,
    get requests() {
      return requests;
    },
    get nonSyncRequests() {
      return requests - syncRequests;
    },
    get byEndpoint() {
      return byEndpoint;
    },
    get longPollsInFlight() {
      return longPolls;
    },
    get peakLongPolls() {
      return peak;
    },
    get peakLongPollsPerToken() {
      return peakPerToken;
    },
    resetPeak() {
      peak = longPolls;
      peakPerToken = Math.max(0, ...perToken.values());
    },
    get longPollObserver() {
      return longPollObserver;
    },
    set longPollObserver(value) {
      longPollObserver = value;
    },
    resetEndpoints() {
      byEndpoint = new Map();
    },
    get syncObserver() {
      return observer;
    },
    set syncObserver(value) {
      observer = value;
    },
    callsOf: (requestId) => ofRequestId(requestId).length,
    endpointsOf: ofRequestId,
    close: proxy.close,
    [Symbol.asyncDispose]: proxy.close,
  };
}
