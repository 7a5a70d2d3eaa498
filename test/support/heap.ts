/**
 * The heap after a full garbage collection, for tests that check memory comes back. vitest
 * workers run without `--expose-gc`; V8 still takes the flag at run time, and a new context then
 * has `gc`.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** `heapUsed` in bytes after a few full collections with pauses between (timers, sockets). */
export async function settledHeapUsed(rounds = 3): Promise<number> {
  for (let round = 0; round < rounds; round++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  gc();
  return process.memoryUsage().heapUsed;
}
