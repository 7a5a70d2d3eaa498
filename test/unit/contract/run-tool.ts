/** Runs a tool of the contract tests (relay-compiler, GraphQL Code Generator, tsc) as a child process. */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

/** The repository root. */
export const root = resolve(import.meta.dirname, '../../..');

/** How a tool ended: its exit code, and stdout followed by stderr. */
export interface ToolResult {
  readonly code: number;
  readonly output: string;
}

/** Runs `file` with `args` in `cwd`; resolves (never rejects) with the exit code and output. */
export function runTool(file: string, args: readonly string[], cwd: string): Promise<ToolResult> {
  return new Promise((done) => {
    execFile(
      file,
      args,
      {
        cwd,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        done({ code, output: `${stdout}${stderr}`.trim() || String(error?.message ?? '') });
      },
    );
  });
}

/** Type-checks the TypeScript project in `dir` (its tsconfig.json) with the repository's tsc. */
export function typecheck(dir: string): Promise<ToolResult> {
  return runTool(
    process.execPath,
    [resolve(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '--pretty', 'false', '-p', dir],
    root,
  );
}
