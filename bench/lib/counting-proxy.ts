/**
 * A counting HTTP proxy in front of the homeserver, one per contender: it forwards every request
 * unchanged and counts them (in all and per endpoint), the `/sync` long-polls in flight, and, when
 * asked, reports each `/sync` response as it arrives from the homeserver (for delivery latency).
 * Every contender goes through one, so each pays the same extra loopback hop.
 */
import {
  Agent,
  createServer,
  request as forwardRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Called with each `/sync` response body the homeserver sent, the bearer token of its request and
 * `performance.now()` when its last byte arrived at the proxy (before it is passed on).
 */
export type SyncObserver = (token: string, body: string, receivedAt: number) => void;

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

export async function startCountingProxy(targetUrl: string): Promise<CountingProxy> {
  const target = targetUrl.replace(/\/+$/, '');
  const targetHost = new URL(target).host;
  // Its own agent: close() drops the kept-alive connections, and nothing limits how many run at
  // once (a thousand long-polls are a thousand connections).
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 1024 });
  let requests = 0;
  let syncRequests = 0;
  let byEndpoint = new Map<string, number>();
  let longPolls = 0;
  let peak = 0;
  const perToken = new Map<string, number>();
  let peakPerToken = 0;
  let observer: SyncObserver | null = null;
  let longPollObserver: ((token: string, startedAt: number) => void) | null = null;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    requests += 1;
    const url = req.url ?? '/';
    const endpoint = endpointOf(req.method ?? 'GET', url);
    byEndpoint.set(endpoint, (byEndpoint.get(endpoint) ?? 0) + 1);
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
    const upstream = forwardRequest(
      `${target}${url}`,
      { method: req.method, headers: { ...req.headers, host: targetHost }, agent },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        // Decided when the answer starts, not when the request came: a long-poll sent before
        // the observer was set still carries the events that arrive after.
        if (isSync && observer !== null && reply.headers['content-encoding'] === undefined) {
          const chunks: Buffer[] = [];
          reply.on('data', (chunk: Buffer) => chunks.push(chunk));
          reply.on('end', () => {
            const receivedAt = performance.now();
            observer?.(token, Buffer.concat(chunks).toString('utf8'), receivedAt);
          });
        }
        reply.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    // A client that gives up (an aborted long-poll) takes the forwarded request down with it.
    res.on('close', () => {
      if (!res.writableFinished) {
        upstream.destroy();
      }
    });
    req.pipe(upstream);
  };

  const server = createServer(handle);
  server.maxConnections = 100_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) {
      return;
    }
    closed = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    agent.destroy();
  };
  return {
    url: `http://127.0.0.1:${port}`,
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
    close,
    [Symbol.asyncDispose]: close,
  };
}
