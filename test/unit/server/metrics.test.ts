import { describe, expect, it } from 'vitest';
import { MatrixApiError } from '../../../src/matrix/errors.ts';
import { clientPath } from '../../../src/matrix/paths.ts';
import { FacadeMetrics, OperationLabel } from '../../../src/server/metrics.ts';

/** The lines of `name` (and its `_bucket`, `_sum`, `_count`) in the rendered text. */
async function linesOf(metrics: FacadeMetrics, name: string): Promise<string[]> {
  return (await metrics.render())
    .split('\n')
    .filter(
      (line) =>
        line.startsWith(`${name}{`) || line.startsWith(`${name} `) || line.startsWith(`${name}_`),
    );
}

describe('FacadeMetrics', () => {
  it('should cap the distinct operation names used as labels', () => {
    const metrics = new FacadeMetrics({ maxOperationNames: 2 });
    expect(metrics.operationLabel('First')).toBe('First');
    expect(metrics.operationLabel('Second')).toBe('Second');
    expect(metrics.operationLabel('Third')).toBe(OperationLabel.Other);
    // Names already seen keep their label.
    expect(metrics.operationLabel('First')).toBe('First');
    expect(metrics.operationLabel(null)).toBe(OperationLabel.Anonymous);
    expect(metrics.operationLabel(undefined)).toBe(OperationLabel.None);
    expect(new FacadeMetrics().operationLabel('x'.repeat(101))).toBe(OperationLabel.Other);
  });

  it('should render counters and cumulative histograms in the text format', async () => {
    const metrics = new FacadeMetrics();
    metrics.operation('Me', 'query', 'none', 0.002);
    metrics.operation('Me', 'query', 'none', 0.2);
    metrics.operation('Me', 'query', 'UNAUTHENTICATED', 0.0005);
    expect(await linesOf(metrics, 'matrix_facade_operations_total')).toEqual([
      'matrix_facade_operations_total{operation="Me",kind="query",outcome="ok",code="none"} 2',
      'matrix_facade_operations_total{operation="Me",kind="query",outcome="error",code="UNAUTHENTICATED"} 1',
    ]);
    const histogram = await linesOf(metrics, 'matrix_facade_operation_duration_seconds');
    expect(histogram).toContain(
      'matrix_facade_operation_duration_seconds_bucket{operation="Me",kind="query",outcome="ok",le="0.001"} 0',
    );
    expect(histogram).toContain(
      'matrix_facade_operation_duration_seconds_bucket{operation="Me",kind="query",outcome="ok",le="0.0025"} 1',
    );
    expect(histogram).toContain(
      'matrix_facade_operation_duration_seconds_bucket{operation="Me",kind="query",outcome="ok",le="0.25"} 2',
    );
    expect(histogram).toContain(
      'matrix_facade_operation_duration_seconds_bucket{operation="Me",kind="query",outcome="ok",le="+Inf"} 2',
    );
    expect(histogram).toContain(
      'matrix_facade_operation_duration_seconds_count{operation="Me",kind="query",outcome="error"} 1',
    );
    expect(await linesOf(metrics, 'matrix_facade_events_missed_total')).toEqual([
      'matrix_facade_events_missed_total 0',
    ]);
  });

  it('should label upstream requests by endpoint template, never by the path', async () => {
    const metrics = new FacadeMetrics();
    const roomId = '!secret:example.org';
    metrics.upstream.request('GET', clientPath`/rooms/${roomId}/messages`, 200, 0.01);
    metrics.upstream.request('GET', clientPath`/rooms/${'!other:example.org'}/messages`, 200, 0.02);
    metrics.upstream.request('GET', `${clientPath`/rooms/${roomId}`}/unknown`, 'timeout', 20);
    metrics.upstream.retry(
      'GET',
      clientPath`/rooms/${roomId}/messages`,
      new MatrixApiError({
        status: 429,
        errcode: 'M_LIMIT_EXCEEDED',
        error: '',
        retryAfterMs: null,
        endpoint: { method: 'GET', path: clientPath`/rooms/${roomId}/messages` },
        body: {},
      }),
    );
    const text = await metrics.render();
    expect(text).not.toContain('secret');
    expect(await linesOf(metrics, 'matrix_facade_upstream_requests_total')).toEqual([
      'matrix_facade_upstream_requests_total{endpoint="/_matrix/client/v3/rooms/{roomId}/messages",method="GET",status="200"} 2',
      'matrix_facade_upstream_requests_total{endpoint="other",method="GET",status="timeout"} 1',
    ]);
    expect(await linesOf(metrics, 'matrix_facade_upstream_retries_total')).toEqual([
      'matrix_facade_upstream_retries_total{endpoint="/_matrix/client/v3/rooms/{roomId}/messages",method="GET",reason="rate_limited"} 1',
    ]);
  });

  it('should keep one registry per instance, with the process metrics', async () => {
    const first = new FacadeMetrics();
    const second = new FacadeMetrics();
    first.refused('QUERY_TOO_EXPENSIVE', 'MAX_COST');
    expect(await linesOf(first, 'matrix_facade_refused_total')).toEqual([
      'matrix_facade_refused_total{reason="QUERY_TOO_EXPENSIVE",limit="MAX_COST"} 1',
    ]);
    expect(await linesOf(second, 'matrix_facade_refused_total')).toEqual([]);
    expect(await second.render()).toContain('process_cpu_seconds_total');
  });

  it('should read the gauges when scraped', async () => {
    const metrics = new FacadeMetrics();
    let websockets = 1;
    metrics.watch(() => ({
      syncLoops: 2,
      subscriptions: 3,
      websockets,
      warmViews: 5,
      warmViewBytes: 6000,
    }));
    websockets = 4;
    const text = await metrics.render();
    expect(text).toContain('matrix_facade_sync_loops 2');
    expect(text).toContain('matrix_facade_subscriptions 3');
    expect(text).toContain('matrix_facade_warm_views 5');
    expect(text).toContain('matrix_facade_warm_view_bytes 6000');
    expect(text).toContain('matrix_facade_websockets 4');
  });
});
