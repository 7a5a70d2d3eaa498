/**
 * The facade as a child process (`node src/server/main.ts`), configured from the environment the
 * way an operator runs it, so that its CPU time and memory in `/proc/<pid>` are the facade's
 * alone: the bench's clients and proxies live in another process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
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
  const child = spawn(process.execPath, [resolve(repositoryRoot, 'src/server/main.ts')], {
    cwd: repositoryRoot,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...childEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error('could not start the facade');
  }
  const exited = new Promise<number | null>((resolveExit) => {
    child.once('exit', (code) => resolveExit(code));
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const warnings: string[] = [];
  const lines = createInterface({ input: child.stdout as NonNullable<ChildProcess['stdout']> });
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      // Not left behind: nobody would hold its PID to stop it.
      child.kill('SIGKILL');
      reject(new Error('the facade did not start within 30 s'));
    }, 30_000);
    lines.on('line', (line) => {
      const listening = /listening on (http:\/\/[^\s"]+)\/graphql/.exec(line);
      if (listening?.[1]) {
        clearTimeout(timer);
        resolveUrl(listening[1]);
      } else if (/"level":([4-6]\d)/.test(line) && warnings.length < 100) {
        warnings.push(line);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the facade exited (code ${code}) before listening:\n${stderr}`));
    });
  });
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (isRunning()) {
      child.kill(signal);
    }
    await exited;
  };
  const stop = async (): Promise<void> => {
    if (!isRunning()) {
      return;
    }
    child.kill('SIGTERM');
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killTimer);
  };
  return {
    url,
    pid,
    env: childEnv,
    cpuMs: () => cpuMs(pid),
    rssBytes: () => rssBytes(pid),
    warnings,
    get running() {
      return isRunning();
    },
    exited,
    kill,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
