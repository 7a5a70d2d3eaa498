/**
 * The process handling scripts/synapse/homeserver.ts and scripts/redis/redis-server.ts share: a
 * free loopback port (and another try when it is taken before the server binds it), a server
 * spawned under `setpriv --pdeathsig` with its output in a log file, stopped by PID (SIGTERM, then
 * SIGKILL), and the last lines of that log when it fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SetupError } from './setup-error.ts';

/** A spawned server: its process, its PID, and when it exits (its exit code; -1 if it never ran). */
export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
}

/** The port a server was to listen on was taken before it could bind it. */
export class PortInUseError extends Error {}

/**
 * Starts `command` with its stdout and stderr appended to `logFile`. setpriv execs the command, so
 * the PID held is the server's own (as long as the command execs too); --pdeathsig stops the
 * server if the process that started it dies without stopping it. `name` is for the error thrown
 * when there is no PID.
 */
export function spawnWithLog(
  name: string,
  command: readonly string[],
  logFile: string,
  options: { cwd?: string } = {},
): ServerProcess {
  const logFd = openSync(logFile, 'a');
  const child = spawn('setpriv', ['--pdeathsig', 'TERM', '--', ...command], {
    ...options,
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const exited = new Promise<number | null>((resolveExit) => {
    child.on('exit', (code) => resolveExit(code));
    child.on('error', () => resolveExit(-1));
  });
  if (child.pid === undefined) {
    throw new Error(`could not start ${name} (no PID)`);
  }
  return { child, pid: child.pid, exited };
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Stops the server with SIGTERM, then SIGKILL after 10 s, and resolves once it has exited. */
export async function stopChild({ child, exited }: ServerProcess): Promise<void> {
  if (!isRunning(child)) {
    await exited;
    return;
  }
  child.kill('SIGTERM');
  const killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killTimer);
}

/** The last 30 lines of `name`'s log (read from `logFile` unless given), headed for an error message. */
export function lastLogLines(
  name: string,
  logFile: string,
  log = readFileSync(logFile, 'utf8'),
): string {
  return `--- last lines of ${name}'s log ---\n${log.split('\n').slice(-30).join('\n')}`;
}

/** A server started by {@link startServer}. */
export interface RunningServer extends AsyncDisposable {
  /** The PID of the server process running now (a new one after {@link restart}). */
  readonly pid: number;
  /** This instance's own data directory; the server's output goes to its log file in it. */
  readonly dataDir: string;
  /**
   * Stops the server and starts it again (the same command: the same port and data directory),
   * resolving once it is ready. In between, connections are refused.
   */
  restart(): Promise<void>;
  /**
   * Kills the server with SIGKILL, as a crash would: no shutdown, clients see their connections
   * reset. Resolves once the process is gone, so its port is free again for {@link restart}.
   */
  kill(): Promise<void>;
  /**
   * Stops the server for good (SIGTERM, then SIGKILL after 10 s), waits for it to exit and removes
   * its data directory unless `keepDataDir` was set.
   */
  stop(): Promise<void>;
}

export interface ServerStart {
  /** The server's name in error messages (`this <name> was stopped for good`). */
  name: string;
  /** The name of its process in error messages (`<processName> exited…`, `<processName>'s log`). */
  processName: string;
  port: number;
  dataDir: string;
  logFile: string;
  /** Whether `stop()` leaves the data directory (a failed start removes it regardless). */
  keepDataDir?: boolean;
  /** What in the log of a failed start says that the port was taken. */
  portInUse: RegExp;
  /** Starts the server process (again, on a restart). */
  spawn(): ServerProcess;
  /** Resolves once `server` is ready; rejects when it exited or did not get ready in time. */
  waitUntilReady(server: ServerProcess): Promise<void>;
}

/**
 * Spawns a server and resolves once it is ready. When it does not get ready, it is stopped, its
 * data directory removed, and the start fails with a {@link PortInUseError} when the port was
 * taken (for {@link startOnFreePort} to try another), else with a {@link SetupError} carrying the
 * last lines of its log.
 */
export async function startServer(start: ServerStart): Promise<RunningServer> {
  const { dataDir, logFile } = start;
  let running = start.spawn();
  let stopped = false;

  const stop = async (): Promise<void> => {
    stopped = true;
    await stopChild(running);
    if (!start.keepDataDir) {
      await rm(dataDir, { recursive: true, force: true });
    }
  };
  const kill = async (): Promise<void> => {
    if (isRunning(running.child)) {
      running.child.kill('SIGKILL');
    }
    await running.exited;
  };
  const restart = async (): Promise<void> => {
    if (stopped) {
      throw new Error(`this ${start.name} was stopped for good`);
    }
    await stopChild(running);
    running = start.spawn();
    try {
      await start.waitUntilReady(running);
    } catch (error) {
      await stopChild(running);
      throw new Error(`${(error as Error).message}\n${lastLogLines(start.processName, logFile)}`);
    }
  };
  try {
    await start.waitUntilReady(running);
  } catch (error) {
    await stopChild(running);
    const log = readFileSync(logFile, 'utf8');
    await rm(dataDir, { recursive: true, force: true });
    if (error instanceof PortInUseError || start.portInUse.test(log)) {
      throw new PortInUseError(`port ${start.port} is taken`);
    }
    throw new SetupError(
      `${(error as Error).message}\n${lastLogLines(start.processName, logFile, log)}`,
    );
  }
  return {
    get pid() {
      return running.pid;
    },
    dataDir,
    restart,
    kill,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Polls `ready` (given the time left) every `intervalMs` until it holds, failing when `server`
 * exits first or `timeoutMs` passes (`timeoutMessage`). `ready` may throw to fail at once.
 */
export async function pollUntilReady(
  server: ServerProcess,
  processName: string,
  ready: (remainingMs: number) => Promise<boolean>,
  options: { timeoutMs: number; intervalMs: number; timeoutMessage: string },
): Promise<void> {
  let exitCode: number | null | undefined;
  void server.exited.then((code) => {
    exitCode = code;
  });
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(`${processName} exited during start-up (exit code ${exitCode})`);
    }
    if (await ready(Math.max(deadline - Date.now(), 1))) {
      return;
    }
    await sleep(options.intervalMs);
  }
  throw new Error(options.timeoutMessage);
}

/**
 * Runs `start` on `port`, or on a free port when absent. A port picked by listening on 0 can be
 * taken again before the server binds it; on that race (`start` throws a {@link PortInUseError})
 * another free port is tried, up to 5 in all.
 */
export async function startOnFreePort<T>(
  port: number | undefined,
  start: (port: number) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(port ?? (await findFreePort()));
    } catch (error) {
      if (!(error instanceof PortInUseError) || port !== undefined || attempt >= 5) {
        throw error;
      }
    }
  }
}

/** A loopback port nothing listens on now. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}
