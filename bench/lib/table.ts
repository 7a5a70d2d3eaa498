/** Plain-text tables for the bench's console output. */
import type { ContenderResult } from './interleave.ts';

/** Pads each column to its widest cell; numbers right-aligned. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((title, index) =>
    Math.max(title.length, ...rows.map((row) => row[index]?.length ?? 0)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => {
        const width = widths[index] ?? 0;
        return index === 0 ? cell.padEnd(width) : cell.padStart(width);
      })
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join(
    '\n',
  );
}

export const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : '-');

export function kilobytes(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

/** The table every interleaved scenario prints: one row per contender. */
export function contenderTable(results: readonly ContenderResult[]): string {
  return formatTable(
    [
      'contender',
      'upstream calls',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'to client',
      'ratio p50',
      'CPU ms/req',
    ],
    results.map((result) => [
      `${result.group}: ${result.name}${result.baseline ? ' (baseline)' : ''}`,
      result.upstreamCalls.min === result.upstreamCalls.max
        ? String(result.upstreamCalls.min)
        : `${result.upstreamCalls.min}-${result.upstreamCalls.max}`,
      ms(result.latencyMs.p50),
      ms(result.latencyMs.p90),
      ms(result.latencyMs.p99),
      kilobytes(result.bytesToClient),
      result.ratioP50 === null ? '-' : `${result.ratioP50.toFixed(2)}x`,
      result.cpuMsPerRequest === null ? '-' : result.cpuMsPerRequest.toFixed(2),
    ]),
  );
}
