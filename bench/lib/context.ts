/**
 * What every scenario gets from `bench/run.ts`: the homeserver, the sizes to run, where results
 * and plots go, and the environment recorded with each result.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Homeserver {
  readonly url: string;
  readonly registrationSharedSecret: string;
  readonly version: string;
}

/** A fan-out configuration: so many subscribers spread over so many users. */
export interface FanOutSize {
  readonly subscribers: number;
  readonly users: number;
}

export interface Sizes {
  /** Rooms in the room list (the issue: 50). */
  readonly rooms: number;
  /** Members and events of the room page (the issue: 20 and 20). */
  readonly pageMembers: number;
  readonly pageEvents: number;
  /** Timed runs per contender, and warm-up runs before them (not kept). */
  readonly runs: number;
  readonly warmup: number;
  /** Cheap query: requests per contender per concurrency level, and the levels. */
  readonly requests: number;
  readonly concurrency: readonly number[];
  /** Fan-out configurations, message rounds, and the settle time after disconnecting. */
  readonly fanOut: readonly FanOutSize[];
  readonly rounds: number;
  readonly settleMs: number;
}

export interface Environment {
  readonly date: string;
  readonly node: string;
  readonly synapse: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly loadAverage: readonly number[];
  readonly commit: string;
  readonly smoke: boolean;
}

export interface BenchContext {
  readonly homeserver: Homeserver;
  readonly sizes: Sizes;
  readonly smoke: boolean;
  readonly environment: Environment;
  /** Writes `<scenario>.json` into the results directory. */
  writeResult(scenario: string, result: unknown): Promise<string>;
  /** Writes an SVG plot into the plots directory; returns its path. */
  writePlot(name: string, svg: string): Promise<string>;
  log(text: string): void;
}

export function createContext(options: {
  homeserver: Homeserver;
  sizes: Sizes;
  smoke: boolean;
  environment: Environment;
  resultsDir: string;
  plotsDir: string;
}): BenchContext {
  const { resultsDir, plotsDir } = options;
  return {
    homeserver: options.homeserver,
    sizes: options.sizes,
    smoke: options.smoke,
    environment: options.environment,
    async writeResult(scenario, result) {
      await mkdir(resultsDir, { recursive: true });
      const path = join(resultsDir, `${scenario}.json`);
      await writeFile(
        path,
        `${JSON.stringify({ scenario, environment: options.environment, sizes: options.sizes, ...(result as object) }, null, 2)}\n`,
      );
      return path;
    },
    async writePlot(name, svg) {
      await mkdir(plotsDir, { recursive: true });
      const path = join(plotsDir, `${name}.svg`);
      await writeFile(path, svg);
      return path;
    },
    log(text) {
      process.stdout.write(`${text}\n`);
    },
  };
}
