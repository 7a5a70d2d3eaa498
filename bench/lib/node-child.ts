/**
 * A Node script of this repository run as a child process of the bench, ready once a line it
 * prints says it listens: what the facade child (facade-process.ts) and the floors' servers
 * (floors.ts) share. Only the environment given (and PATH, HOME) reaches it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const repositoryRoot = resolve(import.meta.dirname, '..', '..');

/** How long a child gets to say it listens before it is killed and the start fails. */
const START_TIMEOUT_MS = 30_000;

export interface NodeChild {
  readonly pid: number;
  /** The first group of `listening` in the line that matched it. */
  readonly address: string;
  /** Whether it is still running (false once it exited, whether stopped, killed or crashed). */
  readonly running: boolean;
  /** Resolves with its exit code once it has exited (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Sends it `signal` (SIGKILL: a crash) and resolves once it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it gracefully (SIGTERM, then SIGKILL after 10 s) and resolves once it has exited. */
  stop(): Promise<void>;
}

export interface NodeChildStart {
  /** Its name in errors. */
  name: string;
  /** The script's absolute path. */
  script: string;
  env: Record<string, string>;
  /** Matches the line that says it listens; its first group is the {@link NodeChild.address}. */
  listening: RegExp;
  /** Hears every other line of its stdout. */
  onLine?: (line: string) => void;
}

export async function startNodeChild(start: NodeChildStart): Promise<NodeChild> {
  const child = spawn(process.execPath, [start.script], {
    cwd: repositoryRoot,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...start.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`could not start ${start.name}`);
  }
  const exited = new Promise<number | null>((resolveExit) => {
    child.once('exit', (code) => resolveExit(code));
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const lines = createInterface({ input: child.stdout as NonNullable<ChildProcess['stdout']> });
  const address = await new Promise<string>((resolveAddress, reject) => {
    const timer = setTimeout(() => {
      // Not left behind: nobody would hold its PID to stop it.
      child.kill('SIGKILL');
      reject(new Error(`${start.name} did not start within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    lines.on('line', (line) => {
      const listening = start.listening.exec(line);
      if (listening?.[1]) {
        clearTimeout(timer);
        resolveAddress(listening[1]);
      } else {
        start.onLine?.(line);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${start.name} exited (code ${code}) before listening:\n${stderr}`));
    });
  });
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  return {
    pid,
    address,
    get running() {
      return isRunning();
    },
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (isRunning()) {
        child.kill(signal);
      }
      await exited;
    },
    async stop() {
      if (!isRunning()) {
        return;
      }
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killTimer);
    },
  };
}
