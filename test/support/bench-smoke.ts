/**
 * Runs a bench script (`bench/run.ts`, `bench/cluster.ts`…) with `--smoke` as a child process,
 * for the tests that keep the benches from rotting: its results go to a temporary directory of
 * their own, removed when the run is disposed (`await using run = await runBenchSmoke(…)`).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');

export interface BenchSmokeRun extends AsyncDisposable {
  /** The results directory the bench was given (`--results-dir`). */
  readonly dir: string;
  /** The child's exit code; `null` when a signal ended it. */
  readonly code: number | null;
  /** Its stdout and stderr, interleaved as they came. */
  readonly output: string;
  /** The JSON the bench wrote as `<name>.json` in {@link dir}. */
  readResult<T>(name: string): Promise<T>;
}

export interface BenchSmokeOptions {
  /** Set in the child's environment on top of the tests' own. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Kills the child when aborted: pass the test's `signal`, so that a test that times out leaves
   * no bench running behind it.
   */
  readonly signal?: AbortSignal;
}

/**
 * Runs `node <script> --smoke --results-dir <a new temporary directory>` from the repository's
 * root and waits for it to exit.
 */
export async function runBenchSmoke(
  script: string,
  { env = {}, signal }: BenchSmokeOptions = {},
): Promise<BenchSmokeRun> {
  const dir = await mkdtemp(join(tmpdir(), `bench-${basename(script, '.ts')}-smoke-`));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const { code, output } = await new Promise<{ code: number | null; output: string }>(
      (resolveRun, rejectRun) => {
        const child = spawn(process.execPath, [script, '--smoke', '--results-dir', dir], {
          cwd: root,
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
          ...(signal === undefined ? {} : { signal }),
        });
        let text = '';
        const collect = (chunk: Buffer) => {
          text += chunk.toString('utf8');
        };
        child.stdout.on('data', collect);
        child.stderr.on('data', collect);
        child.once('error', rejectRun);
        // 'close', not 'exit': by then both pipes have been read to the end.
        child.once('close', (exitCode) => resolveRun({ code: exitCode, output: text }));
      },
    );
    return {
      dir,
      code,
      output,
      readResult: async <T>(name: string) =>
        JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8')) as T,
      [Symbol.asyncDispose]: remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}
