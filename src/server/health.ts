/**
 * Liveness (`/healthz`) and readiness (`/readyz`) for orchestrators, answered before yoga on the
 * main listener: liveness says the process answers; readiness that it is not shutting down and
 * that the homeserver answers `GET /_matrix/client/versions` in time (asked at most once a
 * second, however many probes come).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Upstream } from '../matrix/http.ts';

export interface HealthOptions {
  /** The homeserver to ask; give it a single-try retry policy (a probe must answer in time). */
  upstream: Upstream;
  /** Whether the server is shutting down (then it is not ready, whatever the homeserver says). */
  stopping: () => boolean;
  /**
   * How long the homeserver may take to answer before the facade counts as not ready.
   * @default 2000
   */
  timeoutMs?: number;
  /**
   * Cluster mode: checks Redis (`ok`, or what is wrong), which must answer too for the instance
   * to be ready: without it, its subscribers would miss what other instances' loops deliver.
   */
  redis?: (timeoutMs: number) => Promise<string>;
  /**
   * How long an answer of the homeserver is reused for further probes.
   * @default 1000
   */
  cacheMs?: number;
}

/** What the homeserver check found: `ok`, or why not (`timeout`, `unreachable`, `HTTP 502`…). */
type HomeserverCheck = string;

const VERSIONS_PATH = '/_matrix/client/versions';

export class Health {
  readonly #upstream: Upstream;
  readonly #stopping: () => boolean;
  readonly #timeoutMs: number;
  readonly #cacheMs: number;
  readonly #redis: ((timeoutMs: number) => Promise<string>) | undefined;
  #last: { at: number; result: HomeserverCheck } | null = null;
  #inFlight: Promise<HomeserverCheck> | null = null;

  constructor(options: HealthOptions) {
    this.#upstream = options.upstream;
    this.#stopping = options.stopping;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#cacheMs = options.cacheMs ?? 1000;
    this.#redis = options.redis;
  }

  /**
   * Answers `GET`/`HEAD /healthz` and `/readyz` (exactly those paths); returns false for any
   * other request, which is left untouched.
   */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const { url, method } = request;
    if ((url !== '/healthz' && url !== '/readyz') || (method !== 'GET' && method !== 'HEAD')) {
      return false;
    }
    if (url === '/healthz') {
      send(response, 200, { status: 'alive', checks: { process: 'ok' } });
      return true;
    }
    void this.readiness().then(({ ready, checks }) =>
      send(response, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks }),
    );
    return true;
  }

  /** Whether the facade is ready, and what each check found. */
  async readiness(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    if (this.#stopping()) {
      return { ready: false, checks: { shutdown: 'in progress' } };
    }
    const [homeserver, redis] = await Promise.all([
      this.#homeserver(),
      this.#redis?.(this.#timeoutMs) ?? null,
    ]);
    return {
      ready: homeserver === 'ok' && (redis === null || redis === 'ok'),
      checks: { shutdown: 'no', homeserver, ...(redis === null ? {} : { redis }) },
    };
  }

  #homeserver(): Promise<HomeserverCheck> {
    const last = this.#last;
    if (last !== null && performance.now() - last.at < this.#cacheMs) {
      return Promise.resolve(last.result);
    }
    this.#inFlight ??= this.#ask().then((result) => {
      this.#last = { at: performance.now(), result };
      this.#inFlight = null;
      return result;
    });
    return this.#inFlight;
  }

  async #ask(): Promise<HomeserverCheck> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    try {
      await this.#upstream
        .client(null)
        .send({ method: 'GET', path: VERSIONS_PATH, anonymous: true }, { signal });
      return 'ok';
    } catch (error) {
      if (signal.aborted) {
        return 'timeout';
      }
      const status = (error as { status?: unknown }).status;
      return typeof status === 'number' ? `HTTP ${status}` : 'unreachable';
    }
  }
}

function send(response: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(response.req.method === 'HEAD' ? undefined : text);
}
