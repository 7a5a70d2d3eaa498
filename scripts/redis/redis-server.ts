/**
 * Runs a real Redis (Debian's redis-server, installed on first use) for the cluster tests, the demo
 * and the benchmarks, as scripts/synapse/homeserver.ts runs Synapse: loopback only, a free port,
 * one fresh data directory per instance, stopped by PID. It is a cache and a message bus only: no
 * RDB snapshots, no append-only file, so nothing outlives the process.
 */
import { mkdtemp } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PortInUseError,
  pollUntilReady,
  type RunningServer,
  type ServerProcess,
  spawnWithLog,
  startOnFreePort,
  startServer,
} from '../child-process.ts';
import { ensureDebianPackages } from '../system-packages.ts';

/** The process's name in error messages. */
const PROCESS_NAME = 'redis-server';

export interface RedisOptions {
  /**
   * The loopback port to listen on; a free one is picked when absent.
   * @default a free port
   */
  port?: number;
  /**
   * How long to wait for `PING` to be answered after the start.
   * @default 10000
   */
  readyTimeoutMs?: number;
}

/**
 * A running Redis. Its data directory is its working directory; its output goes to `redis.log` in
 * it. {@link RunningServer.restart} (after {@link RunningServer.kill} too) does NOT keep the data:
 * nothing is persisted, so the new process starts empty, as a cache-only Redis does after a crash.
 */
export interface RunningRedis extends RunningServer {
  /** The URL clients connect to, e.g. `redis://127.0.0.1:38211`. */
  readonly url: string;
  readonly port: number;
}

/** Starts a redis-server on loopback and resolves once it answers `PING`. */
export async function startRedis(options: RedisOptions = {}): Promise<RunningRedis> {
  await ensureDebianPackages(['redis-server']);
  // On a port taken before Redis binds it, Redis exits at once and another port is tried.
  return await startOnFreePort(options.port, (port) =>
    startOnPort(port, options.readyTimeoutMs ?? 10_000),
  );
}

async function startOnPort(port: number, readyTimeoutMs: number): Promise<RunningRedis> {
  const dataDir = await mkdtemp(join(tmpdir(), 'redis-'));
  const logFile = join(dataDir, 'redis.log');
  const server = await startServer({
    name: 'Redis',
    processName: PROCESS_NAME,
    port,
    dataDir,
    logFile,
    portInUse: /Address already in use/,
    spawn: () => spawnRedis(port, dataDir, logFile),
    waitUntilReady: (redis) => waitUntilReady(port, redis, readyTimeoutMs),
  });
  return Object.assign(server, { url: `redis://127.0.0.1:${port}`, port });
}

/** Starts redis-server on `port`, appending its output to `logFile`. */
function spawnRedis(port: number, dataDir: string, logFile: string): ServerProcess {
  // Options on the command line only: no configuration file to write, nothing saved to disk,
  // protected mode kept on.
  return spawnWithLog(
    PROCESS_NAME,
    [
      'redis-server',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dataDir,
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--loglevel',
      'warning',
    ],
    logFile,
    { cwd: dataDir },
  );
}

/**
 * Waits until the Redis on `port` answers `PING` and reports `redis.pid` as its process: another
 * Redis that won the race for the port would answer too, and then this start has failed.
 */
async function waitUntilReady(
  port: number,
  redis: ServerProcess,
  timeoutMs: number,
): Promise<void> {
  await pollUntilReady(
    redis,
    PROCESS_NAME,
    async (remainingMs) => {
      const answeringPid = await ping(port, remainingMs);
      if (answeringPid !== null && answeringPid !== redis.pid) {
        throw new PortInUseError(`port ${port} is taken by another Redis (PID ${answeringPid})`);
      }
      return answeringPid === redis.pid;
    },
    {
      timeoutMs,
      intervalMs: 20,
      timeoutMessage: `${PROCESS_NAME} did not answer PING on port ${port} within ${timeoutMs} ms`,
    },
  );
}

/**
 * Sends `PING` and `INFO server` over a raw socket: the PID of the Redis that answered `+PONG`, or
 * null when nothing answered (not listening yet, still loading).
 */
function ping(port: number, timeoutMs: number): Promise<number | null> {
  return new Promise((resolvePing) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    const done = (pid: number | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolvePing(pid);
    };
    const timer = setTimeout(() => done(null), Math.min(timeoutMs, 1_000));
    socket.on('connect', () => socket.write('PING\r\nINFO server\r\n'));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      if (!received.startsWith('+PONG\r\n')) {
        if (received.length >= 7) {
          done(null);
        }
        return;
      }
      const pid = /\r\nprocess_id:(\d+)\r\n/.exec(received);
      if (pid?.[1]) {
        done(Number(pid[1]));
      }
    });
    socket.on('error', () => done(null));
    socket.on('close', () => done(null));
  });
}
