/**
 * A histogram read from the facade's `/metrics` (Prometheus text format), summed over its label
 * sets, and its quantiles estimated the way Prometheus's `histogram_quantile` does: linearly
 * inside the bucket that holds the rank. The bucket bounds say how far to trust an estimate.
 */
export interface HistogramReading {
  /** Observations in all. */
  count: number;
  /** Cumulative counts by upper bound (seconds), ascending; the last bound is `Infinity`. */
  buckets: [upperBound: number, cumulative: number][];
}

/** The histogram `name` in `text`, all label sets added up; `null` when it has no samples. */
export function readHistogram(text: string, name: string): HistogramReading | null {
  const byBound = new Map<number, number>();
  const pattern = new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\S+)$`);
  for (const line of text.split('\n')) {
    const match = pattern.exec(line);
    const le = match?.[1] ? /le="([^"]+)"/.exec(match[1])?.[1] : undefined;
    if (match?.[2] === undefined || le === undefined) {
      continue;
    }
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    byBound.set(bound, (byBound.get(bound) ?? 0) + Number(match[2]));
  }
  const buckets = [...byBound].sort((a, b) => a[0] - b[0]);
  const count = buckets.at(-1)?.[1] ?? 0;
  return count === 0 ? null : { count, buckets };
}

/**
 * The `q` quantile (0–1) in seconds, interpolated inside its bucket; the largest finite bound when
 * it falls in the last, open one (as Prometheus does).
 */
export function histogramQuantile(reading: HistogramReading, q: number): number {
  const rank = q * reading.count;
  let lowerBound = 0;
  let below = 0;
  for (const [bound, cumulative] of reading.buckets) {
    if (cumulative >= rank) {
      if (bound === Number.POSITIVE_INFINITY) {
        return lowerBound;
      }
      const inBucket = cumulative - below;
      return inBucket === 0
        ? bound
        : lowerBound + (bound - lowerBound) * ((rank - below) / inBucket);
    }
    lowerBound = bound;
    below = cumulative;
  }
  return lowerBound;
}

/** The upper bound (seconds) of the bucket holding the `q` quantile: what it is at most. */
export function histogramBound(reading: HistogramReading, q: number): number {
  const rank = q * reading.count;
  return (
    reading.buckets.find(([, cumulative]) => cumulative >= rank)?.[0] ?? Number.POSITIVE_INFINITY
  );
}
