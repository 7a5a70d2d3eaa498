/**
 * The facade's Prometheus metrics: operations, refusals, upstream requests, the sync bridge and
 * subscription delivery, plus Node's process metrics, in one registry per app (so that several
 * apps in one process never share or clash). docs/operations.md lists them.
 *
 * The counters and histograms on the request path are kept as plain numbers per label set and
 * handed to prom-client only when scraped: prom-client's own `observe`/`inc` build a label object
 * and hash it on every call, which costs more than the rest of a cheap request's bookkeeping.
 */
import { collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';
import type { ClusterFeedMetrics } from '../cluster/cluster-feed.ts';
import { endpointTemplate } from '../matrix/endpoint-template.ts';
import { ConnectionError, MatrixApiError, MatrixHttpError } from '../matrix/errors.ts';
import type { UpstreamObserver } from '../matrix/http.ts';
import { isRateLimited } from '../matrix/policy.ts';
import type { SyncHubMetrics } from '../sync/sync-hub.ts';
import type { WarmViewMetrics } from '../sync/warm-views.ts';

/** The prefix of every metric of the facade's own. */
const PREFIX = 'matrix_facade_';

/** Operations: from well under a millisecond (a refusal) to the operation deadline (60 s). */
const OPERATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;
/** Upstream tries: a local homeserver answers in milliseconds; a long-poll holds for 30 s. */
const UPSTREAM_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;
/** Delivery inside the facade: sub-millisecond when idle, seconds under a burst. */
const DELIVERY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** Labels standing for an operation without a name of its own (see {@link operationLabel}). */
export const OperationLabel = {
  /** An operation without a name. */
  Anonymous: '(anonymous)',
  /** A request that never got to an operation: unparsable, refused before parsing, not GraphQL. */
  None: '(none)',
  /** A name past the cap of distinct names, or too long to be a label. */
  Other: '(other)',
} as const;

/** What the metrics of operations are labelled with, besides the name. */
export type OperationKind = 'query' | 'mutation' | 'subscription' | 'unknown';

export interface FacadeMetricsOptions {
  /**
   * The most distinct operation names used as labels; later ones are counted as `(other)`, so
   * that clients naming every request differently cannot grow the metrics without bound.
   * @default 100
   */
  maxOperationNames?: number;
}

/** The live figures the gauges read when scraped. */
export interface LiveState {
  /** Sync loops running (those in their grace period and winding down included). */
  syncLoops: number;
  /** Subscriptions listening to the sync bridge. */
  subscriptions: number;
  /** Open graphql-ws connections. */
  websockets: number;
  /** Warm room views held, and what they hold (estimated bytes). */
  warmViews: number;
  warmViewBytes: number;
}

/** The longest operation name used as a label. */
const MAX_OPERATION_NAME_LENGTH = 100;

export class FacadeMetrics {
  readonly registry = new Registry();
  /** The `Content-Type` of {@link FacadeMetrics.render}'s text. */
  readonly contentType = this.registry.contentType;
  readonly #maxOperationNames: number;
  readonly #operationNames = new Set<string>();
  readonly #operations = new CounterFamily(
    `${PREFIX}operations_total`,
    'GraphQL operations (HTTP, SSE and graphql-ws) by name, kind and outcome; `code` is the first error code, `none` when it succeeded.',
    ['operation', 'kind', 'outcome', 'code'],
  );
  readonly #operationSeconds = new HistogramFamily(
    `${PREFIX}operation_duration_seconds`,
    'How long operations took, from the request (or subscribe message) to the answer; a subscription until it ended.',
    ['operation', 'kind', 'outcome'],
    OPERATION_BUCKETS,
  );
  readonly #refused = new CounterFamily(
    `${PREFIX}refused_total`,
    'Requests, operations and connections a limit refused (docs/security.md): `reason` is the error code (or what was refused), `limit` the setting that refused it.',
    ['reason', 'limit'],
  );
  readonly #upstreamRequests = new CounterFamily(
    `${PREFIX}upstream_requests_total`,
    'Requests sent to the homeserver, each try counted, by endpoint template, method and HTTP status (or the failure: timeout, connect, reset, too-large, aborted).',
    ['endpoint', 'method', 'status'],
  );
  readonly #upstreamSeconds = new HistogramFamily(
    `${PREFIX}upstream_request_duration_seconds`,
    'How long each try of an upstream request took, to the last byte of its body (a long-poll /sync includes its wait).',
    ['endpoint', 'method'],
    UPSTREAM_BUCKETS,
  );
  readonly #upstreamRetries = new CounterFamily(
    `${PREFIX}upstream_retries_total`,
    'Upstream tries that failed and were sent again, by why: rate_limited (429), server_error (5xx), connection.',
    ['endpoint', 'method', 'reason'],
  );
  readonly #delivered = new CounterFamily(
    `${PREFIX}events_delivered_total`,
    'Subscription items handed to a client transport (per subscriber), by the kind of sync update: timeline, state, membership, typing, gap.',
    ['kind'],
  );
  readonly #deliverySeconds = new HistogramFamily(
    `${PREFIX}event_delivery_seconds`,
    'Delivery inside the facade: from the sync loop having received and parsed the /sync answer that carried an update, to the resolved item being handed to the websocket (graphql-ws) or the SSE stream.',
    ['kind'],
    DELIVERY_BUCKETS,
  );
  readonly #missed = new CounterFamily(
    `${PREFIX}events_missed_total`,
    'Timeline events a subscriber reading too slowly lost (a gap in their place; docs/subscriptions.md).',
    [],
  );
  readonly #gaps = new CounterFamily(
    `${PREFIX}sync_gaps_total`,
    'Gaps the sync loops reported, one per room: more events missed than backfill recovers, or a position the homeserver refused.',
    [],
  );

  readonly #clusterLoops = new CounterFamily(
    `${PREFIX}cluster_loops_taken_total`,
    'Sync loops this instance started in cluster mode, by how: resumed (from the position another instance stored: a takeover or handover) or fresh.',
    ['how'],
  );
  readonly #clusterPublishFailures = new CounterFamily(
    `${PREFIX}cluster_publish_failures_total`,
    'Sync responses this instance could not publish to Redis (the other instances get a gap for their rooms instead).',
    [],
  );
  readonly #clusterMissed = new CounterFamily(
    `${PREFIX}cluster_messages_missed_total`,
    'Times this instance found messages from Redis missing (a number skipped, a loop started afresh) and delivered gaps in their place.',
    [],
  );

  readonly #warmReads = new CounterFamily(
    `${PREFIX}warm_view_reads_total`,
    "Room list reads by how they were answered: hit (from a warm view, no upstream call), or the miss that sent them cold: cold (no view yet: one starts), warming (its snapshot not in yet, or the stream not yet past it), writing (the stream did not pass the token's last write in time), behind (cluster mode: this instance had not received in time what the token's loop had published when the read began).",
    ['outcome'],
  );
  readonly #warmEvictions = new CounterFamily(
    `${PREFIX}warm_view_evictions_total`,
    'Warm room views dropped, by why: idle (unread for WARM_VIEW_IDLE_MS, not streaming), budget (past WARM_VIEW_MAX_BYTES_PER_USER, or the least recently read past WARM_VIEW_MAX_BYTES), ended (token revoked), failed (snapshot failed), lost (cluster mode: a response relayed through Redis went missing; the next read starts a new view).',
    ['reason'],
  );

  /** Reports the upstream client's tries and retries (`UpstreamOptions.observer`). */
  readonly upstream: UpstreamObserver;
  /** Reports the sync bridge's gaps and lost events (`SyncHubOptions.metrics`). */
  readonly sync: SyncHubMetrics;
  /** Reports warm room views' hits, misses and evictions (src/sync/warm-views.ts). */
  readonly warmViews: WarmViewMetrics;
  /** Reports cluster mode's takeovers and losses (src/cluster/cluster-feed.ts). */
  readonly cluster: ClusterFeedMetrics;

  constructor(options: FacadeMetricsOptions = {}) {
    this.#maxOperationNames = options.maxOperationNames ?? 100;
    collectDefaultMetrics({ register: this.registry });
    for (const family of [
      this.#operations,
      this.#operationSeconds,
      this.#refused,
      this.#upstreamRequests,
      this.#upstreamSeconds,
      this.#upstreamRetries,
      this.#delivered,
      this.#deliverySeconds,
      this.#missed,
      this.#gaps,
      this.#clusterLoops,
      this.#clusterPublishFailures,
      this.#clusterMissed,
      this.#warmReads,
      this.#warmEvictions,
    ]) {
      // prom-client types `registerMetric` for its own classes; it only calls `get()` (and the
      // name, help and type) of what it renders, which these provide.
      this.registry.registerMetric(family as unknown as Metric);
    }
    const requests = this.#upstreamRequests;
    const seconds = this.#upstreamSeconds;
    const retries = this.#upstreamRetries;
    this.upstream = {
      request(method, path, status, elapsedSeconds) {
        const endpoint = endpointTemplate(path);
        requests.series(endpoint, method, statusLabel(status)).inc();
        seconds.series(endpoint, method).observe(elapsedSeconds);
      },
      retry(method, path, error) {
        retries.series(endpointTemplate(path), method, retryReason(error)).inc();
      },
    };
    const missed = this.#missed.series();
    const gaps = this.#gaps.series();
    this.sync = {
      gap: () => gaps.inc(),
      eventsMissed: (events) => missed.inc(events),
    };
    const reads = this.#warmReads;
    const evictions = this.#warmEvictions;
    this.warmViews = {
      hit: () => reads.series('hit').inc(),
      miss: (reason) => reads.series(reason).inc(),
      evicted: (reason) => evictions.series(reason).inc(),
    };
    const loops = this.#clusterLoops;
    const publishFailures = this.#clusterPublishFailures.series();
    const messagesMissed = this.#clusterMissed.series();
    const held = new Gauge({
      name: `${PREFIX}cluster_loops_held`,
      help: 'Sync loops this instance runs for the cluster (it holds their lease); the sum over instances is the long-polls the cluster holds open.',
      registers: [this.registry],
    });
    this.cluster = {
      loopTaken: (resumed) => {
        loops.series(resumed ? 'resumed' : 'fresh').inc();
        held.inc();
      },
      loopLeft: () => held.dec(),
      publishFailed: () => publishFailures.inc(),
      messagesMissed: () => messagesMissed.inc(),
    };
  }

  /**
   * The label of an operation's name: the name itself while fewer than `maxOperationNames`
   * distinct ones have been seen (and it is at most 100 characters), else `(other)`. `null`: an
   * operation without a name; `undefined`: no operation at all.
   */
  operationLabel(name: string | null | undefined): string {
    if (name === undefined) {
      return OperationLabel.None;
    }
    if (name === null) {
      return OperationLabel.Anonymous;
    }
    if (this.#operationNames.has(name)) {
      return name;
    }
    if (
      this.#operationNames.size >= this.#maxOperationNames ||
      name.length > MAX_OPERATION_NAME_LENGTH
    ) {
      return OperationLabel.Other;
    }
    this.#operationNames.add(name);
    return name;
  }

  /** One operation ended. `code`: its first error's (bounded: see operations.ts), `none` if none. */
  operation(label: string, kind: OperationKind, code: string, seconds: number): void {
    const outcome = code === 'none' ? 'ok' : 'error';
    this.#operations.series(label, kind, outcome, code).inc();
    this.#operationSeconds.series(label, kind, outcome).observe(seconds);
  }

  /** A limit refused something (docs/operations.md lists the reasons). */
  refused(reason: string, limit: string): void {
    this.#refused.series(reason, limit).inc();
  }

  /**
   * A subscription item of `kind` was handed to its transport; `seconds` since its sync response
   * was received (`NaN` for an item no response carried, such as a slow consumer's gap).
   */
  delivered(kind: string, seconds: number): void {
    this.#delivered.series(kind).inc();
    if (!Number.isNaN(seconds)) {
      this.#deliverySeconds.series(kind).observe(seconds);
    }
  }

  /** Registers the gauges that read the live state when scraped. */
  watch(read: () => LiveState): void {
    const gauge = (name: string, help: string, pick: (state: LiveState) => number) =>
      new Gauge({
        name: `${PREFIX}${name}`,
        help,
        registers: [this.registry],
        collect() {
          this.set(pick(read()));
        },
      });
    gauge(
      'sync_loops',
      'Sync loops running, one per access token with subscriptions (grace period included).',
      (s) => s.syncLoops,
    );
    gauge(
      'subscriptions',
      'Subscriptions listening to the sync bridge (graphql-ws and SSE).',
      (s) => s.subscriptions,
    );
    gauge('websockets', 'Open graphql-ws connections.', (s) => s.websockets);
    gauge(
      'warm_views',
      'Warm room views held: tokens whose room list is kept in memory from their sync stream.',
      (s) => s.warmViews,
    );
    gauge(
      'warm_view_bytes',
      'What the warm room views hold, in estimated bytes (the JSON size of their events).',
      (s) => s.warmViewBytes,
    );
  }

  /** Everything, in Prometheus's text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}

/** An HTTP status as a label, without a new string for each call. */
const STATUS_LABELS = Array.from({ length: 600 }, (_, status) => String(status));

function statusLabel(status: number | string): string {
  return typeof status === 'number' ? (STATUS_LABELS[status] ?? 'other') : status;
}

function retryReason(error: unknown): string {
  if (isRateLimited(error)) {
    return 'rate_limited';
  }
  if (error instanceof MatrixApiError || error instanceof MatrixHttpError) {
    return error.status >= 500 ? 'server_error' : 'other';
  }
  return error instanceof ConnectionError ? 'connection' : 'other';
}

/** The key of one label set in a family's map. */
function seriesKey(values: readonly string[]): string {
  return values.length === 1 ? (values[0] ?? '') : values.join('\u0000');
}

/** One label set of a counter. */
class CounterSeries {
  readonly labels: Readonly<Record<string, string>>;
  value = 0;

  constructor(labels: Readonly<Record<string, string>>) {
    this.labels = labels;
  }

  inc(by = 1): void {
    this.value += by;
  }
}

/** One label set of a histogram: a count per bucket (not cumulative until rendered). */
class HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(labels: Readonly<Record<string, string>>, bounds: readonly number[]) {
    this.labels = labels;
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const bounds = this.bounds;
    for (let index = 0; index < bounds.length; index++) {
      if (value <= (bounds[index] ?? Number.POSITIVE_INFINITY)) {
        this.counts[index] = (this.counts[index] ?? 0) + 1;
        return;
      }
    }
  }
}

/** One line of a metric as prom-client's registry renders it. */
interface RenderedValue {
  labels: Readonly<Record<string, string | number>>;
  value: number;
  /** The line's own name (`…_bucket`, `…_sum`, `…_count`); the metric's when absent. */
  metricName?: string;
}

/** What prom-client's registry reads of a metric it renders. */
interface Rendered {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: RenderedValue[];
  aggregator: 'sum';
}

/** A metric kept by this module, as prom-client's registry reads it. */
interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  get(): Rendered;
  reset(): void;
}

abstract class SeriesFamily<S extends { labels: Readonly<Record<string, string>> }>
  implements Family
{
  abstract readonly type: 'counter' | 'histogram';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly all = new Map<string, S>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** The series of these label values (in `labelNames` order), made on first use. */
  series(...values: string[]): S {
    const key = seriesKey(values);
    let series = this.all.get(key);
    if (series === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, index) => {
        labels[name] = values[index] ?? '';
      });
      series = this.create(labels);
      this.all.set(key, series);
    }
    return series;
  }

  protected abstract create(labels: Record<string, string>): S;
  abstract get(): Rendered;

  reset(): void {
    this.all.clear();
  }
}

class CounterFamily extends SeriesFamily<CounterSeries> {
  readonly type = 'counter';

  protected create(labels: Record<string, string>): CounterSeries {
    return new CounterSeries(labels);
  }

  get(): Rendered {
    // A counter without labels is shown at 0 before it first counts.
    const values =
      this.labelNames.length === 0 && this.all.size === 0
        ? [{ labels: {}, value: 0 }]
        : [...this.all.values()].map(({ labels, value }) => ({ labels, value }));
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' };
  }
}

class HistogramFamily extends SeriesFamily<HistogramSeries> {
  readonly type = 'histogram';

  readonly bounds: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    bounds: readonly number[],
  ) {
    super(name, help, labelNames);
    this.bounds = bounds;
  }

  protected create(labels: Record<string, string>): HistogramSeries {
    return new HistogramSeries(labels, this.bounds);
  }

  get(): Rendered {
    const values: RenderedValue[] = [];
    for (const series of this.all.values()) {
      let cumulative = 0;
      series.bounds.forEach((bound, index) => {
        cumulative += series.counts[index] ?? 0;
        values.push({
          labels: { ...series.labels, le: bound },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      values.push(
        {
          labels: { ...series.labels, le: '+Inf' },
          value: series.count,
          metricName: `${this.name}_bucket`,
        },
        { labels: series.labels, value: series.sum, metricName: `${this.name}_sum` },
        { labels: series.labels, value: series.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}
