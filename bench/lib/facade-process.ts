/**
 * The facade as a child process (`node src/server/main.ts`), configured from the environment the
 * way an operator runs it, so that its CPU time and memory in `/proc/<pid>` are the facade's
 * alone: the bench's clients and proxies live in another process.
 */
import { resolve } from 'node:path';
import { startNodeChild } from './node-child.ts';
import { cpuMs, rssBytes } from './proc.ts';

const repositoryRoot = resolve(import.meta.dirname, '..', '..');

export interface FacadeProcess extends AsyncDisposable {
  /** The facade's base URL (`http://127.0.0.1:<port>`); GraphQL is at `${url}/graphql`. */
  readonly url: string;
  readonly pid: number;
  /** The environment it was started with, besides PATH and HOME. */
  readonly env: Readonly<Record<string, string>>;
  /** Its user + system CPU time so far, in ms. */
  cpuMs(): number;
  /** Its resident set size now, in bytes. */
  rssBytes(): number;
  /** Log lines it wrote at warn level or above, so far. */
  readonly warnings: readonly string[];
  /** Whether it is still running (false once it exited, whether stopped, killed or crashed). */
  readonly running: boolean;
  /** Resolves with its exit code once it has exited (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /**
   * Sends it `signal` and resolves once it has exited: the default SIGKILL is a crash, with no
   * graceful shutdown (fault tests); nothing happens when it has exited already.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it gracefully (SIGTERM, then SIGKILL after 10 s) and resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts the facade against `homeserverUrl` (a counting proxy) on a free loopback port and
 * resolves once it logs the URL it listens on. Only `env` (and PATH, HOME) reach it: variables
 * of the bench's own environment cannot change what is measured.
 */
export async function startFacadeProcess(
  homeserverUrl: string,
  env: Record<string, string> = {},
): Promise<FacadeProcess> {
  const childEnv: Record<string, string> = {
    MATRIX_HOMESERVER_URL: homeserverUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    // The cold plans, measured against calling Synapse directly; a scenario turns views on.
    WARM_VIEW_IDLE_MS: '0',
    // Profiling the facade under a scenario: BENCH_FACADE_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=…'.
    ...(process.env['BENCH_FACADE_NODE_OPTIONS']
      ? { NODE_OPTIONS: process.env['BENCH_FACADE_NODE_OPTIONS'] }
      : {}),
    ...env,
  };
  const warnings: string[] = [];
  const child = await startNodeChild({
    name: 'the facade',
    script: resolve(repositoryRoot, 'src/server/main.ts'),
    env: childEnv,
    listening: /listening on (http:\/\/[^\s"]+)\/graphql/,
    onLine(line) {
      if (/"level":([4-6]\d)/.test(line) && warnings.length < 100) {
        warnings.push(line);
      }
    },
  });
  const { pid } = child;
  return {
    url: child.address,
    pid,
    env: childEnv,
    cpuMs: () => cpuMs(pid),
    rssBytes: () => rssBytes(pid),
    warnings,
    get running() {
      return child.running;
    },
    exited: child.exited,
    kill: (signal) => child.kill(signal),
    stop: () => child.stop(),
    [Symbol.asyncDispose]: () => child.stop(),
  };
}
