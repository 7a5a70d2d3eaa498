/**
 * What a moment of idle adds to a request on this machine. Round by round, each contender is
 * timed on the first request after `idleMs` in which nothing of the bench runs, then on the last
 * {@link HOT_READS} of a burst of {@link BURST} requests sent back to back (by then the code and
 * data it touches, and the CPU, are hot). The interleaved tables put every contender after
 * someone else's run (a cold read keeps Synapse busy for 100 ms); this tells how much of its time
 * there is the idle, and that the idle costs every server here, not the facade alone (the floors
 * of bench/lib/floors.ts pay it too).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Contender } from './interleave.ts';
import { type Summary, summarize } from './stats.ts';
import { formatTable, ms } from './table.ts';
import { expectOnlyHits, warmViewReads } from './warm-view.ts';

/** The idle the scenarios time after: longer than a loopback request, shorter than a cold read. */
export const IDLE_MS = 30;

/** Requests of a burst, back to back; the last {@link HOT_READS} are timed. */
const BURST = 20;
const HOT_READS = 10;

export interface IdleCostResult {
  readonly name: string;
  readonly group: string;
  /** The last requests of each burst. */
  readonly hotMs: Summary;
  /** The first request after the idle. */
  readonly afterIdleMs: Summary;
}

export async function idleCost(
  contenders: readonly Contender[],
  options: { runs: number; idleMs: number },
): Promise<IdleCostResult[]> {
  const samples = contenders.map(() => ({ hot: [] as number[], afterIdle: [] as number[] }));
  const timed = async (contender: Contender): Promise<number> => {
    const started = performance.now();
    await contender.run();
    return performance.now() - started;
  };
  for (let run = 0; run < options.runs; run++) {
    for (const [index, contender] of contenders.entries()) {
      const sample = samples[index] as (typeof samples)[number];
      await sleep(options.idleMs);
      sample.afterIdle.push(await timed(contender));
      for (let request = 1; request < BURST; request++) {
        const ms = await timed(contender);
        if (request >= BURST - HOT_READS) {
          sample.hot.push(ms);
        }
      }
    }
  }
  return contenders.map((contender, index) => {
    const sample = samples[index] as (typeof samples)[number];
    return {
      name: contender.name,
      group: contender.group,
      hotMs: summarize(sample.hot),
      afterIdleMs: summarize(sample.afterIdle),
    };
  });
}

/**
 * {@link idleCost} of the warm contender and the floors (`contenders`, the warm one among them),
 * `runs` rounds after {@link IDLE_MS}; every read of the warm facade at `warmFacadeUrl` (each
 * round: a burst) checked to be a hit of its view.
 */
export async function warmIdleCost(
  scenario: string,
  warmFacadeUrl: string,
  contenders: readonly Contender[],
  runs: number,
): Promise<IdleCostResult[]> {
  const before = await warmViewReads(warmFacadeUrl);
  const results = await idleCost(contenders, { runs, idleMs: IDLE_MS });
  await expectOnlyHits(`${scenario} (idle cost)`, warmFacadeUrl, before, BURST * runs);
  return results;
}

/** The hot p50 of the contender named `name` in `results`. */
export function hotP50(results: readonly IdleCostResult[], name: string): number {
  const result = results.find((candidate) => candidate.name === name);
  if (!result) {
    throw new Error(`idle cost: no contender ${name}`);
  }
  return result.hotMs.p50;
}

export function idleCostTable(results: readonly IdleCostResult[], idleMs: number): string {
  return formatTable(
    ['contender', 'hot p50 ms', `after ${idleMs} ms idle p50 ms`, 'added ms'],
    results.map((result) => [
      `${result.group}: ${result.name}`,
      ms(result.hotMs.p50),
      ms(result.afterIdleMs.p50),
      ms(result.afterIdleMs.p50 - result.hotMs.p50),
    ]),
  );
}
