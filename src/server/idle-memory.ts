/**
 * Gives the memory of a burst back to the system once the facade is idle again. After thousands
 * of subscribers leave, nothing of theirs is live (the heap after a full collection is back at
 * its baseline), but V8 keeps the pages their garbage took: an idle process allocates nothing, so
 * no collection runs, and only V8's memory-reducing collection returns pages to the system, which
 * it starts on its own only some of the time (measured: RSS 428 MB 15 s after 2,000 subscribers
 * left, 158 MB once it ran, 30 to 60 s later or not at all). So when the last sync loop has
 * stopped, one such collection runs a moment later: a pause of a few milliseconds with the live
 * heap this small, at most once a minute.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../logger.ts';

/** How long after the last loop stopped the collection runs (more may stop meanwhile). */
const RECLAIM_DELAY_MS = 2000;

/** The least time between two collections, however often the facade goes idle. */
const RECLAIM_INTERVAL_MS = 60_000;

type Collect = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * V8's `gc`, which Node exposes only with `--expose-gc`: V8 takes the flag at run time too, and a
 * new context then has the function. Obtained once, on the first reclaim.
 */
let collect: Collect | null = null;
function collector(): Collect {
  if (collect === null) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as Collect;
  }
  return collect;
}

export interface IdleMemoryReclaimer {
  /** The facade just went idle: reclaim soon, unless it is busy again by then. */
  idle(): void;
  /** Cancels a pending reclaim (shutdown). */
  cancel(): void;
}

/** `isIdle` says, when the delay is over, whether the facade is still idle. */
export function idleMemoryReclaimer(isIdle: () => boolean, logger: Logger): IdleMemoryReclaimer {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastRun = Number.NEGATIVE_INFINITY;
  const run = (): void => {
    timer = null;
    if (!isIdle()) {
      return;
    }
    lastRun = performance.now();
    const before = process.memoryUsage.rss();
    collector()({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    logger.debug(
      {
        rssBeforeMb: Math.round(before / 2 ** 20),
        rssAfterMb: Math.round(process.memoryUsage.rss() / 2 ** 20),
        ms: Math.round(performance.now() - lastRun),
      },
      'memory reclaimed after the last sync loop stopped',
    );
  };
  return {
    idle() {
      if (timer !== null) {
        return;
      }
      const wait = Math.max(RECLAIM_DELAY_MS, lastRun + RECLAIM_INTERVAL_MS - performance.now());
      timer = setTimeout(run, wait);
      timer.unref();
    },
    cancel() {
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
    },
  };
}
