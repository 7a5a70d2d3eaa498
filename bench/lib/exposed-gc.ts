/**
 * Heap figures for the benches run with `node --expose-gc` (hostile.ts, upstream-faults.ts): a
 * full collection before each reading, so that what is left is what is held. Without the flag
 * the readings include garbage; `warnWithoutGc` says so. (fairness.ts wants a settled heap and
 * uses test/support/heap.ts instead, which exposes gc at run time and waits between collections.)
 */

const gc = (globalThis as { gc?: () => void }).gc;

/** Writes a line to stderr when node was started without `--expose-gc`. */
export function warnWithoutGc(): void {
  if (!gc) {
    process.stderr.write('run with node --expose-gc for heap figures\n');
  }
}

/** `heapUsed` in MiB, after a full collection when gc is exposed. */
export function heapUsedMb(): number {
  gc?.();
  return process.memoryUsage().heapUsed / (1024 * 1024);
}
