import { mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, runTool, typecheck } from './run-tool.ts';

// relay-compiler's main export is the path of the compiler binary it ships for this platform.
const relayCompiler = createRequire(import.meta.url)('relay-compiler') as string | null;
const app = join(root, 'test/fixtures/relay-app');

describe('the Relay fixture client (test/fixtures/relay-app)', () => {
  it('should compile against schema.graphql with relay-compiler', async () => {
    expect(
      relayCompiler,
      `relay-compiler ships no binary for ${process.platform}-${process.arch}`,
    ).not.toBeNull();
    const generated = join(app, '__generated__');
    await rm(generated, { recursive: true, force: true });
    await mkdir(generated);
    const result = await runTool(
      relayCompiler ?? 'relay',
      ['--noWatchman', '--output', 'quiet-with-errors', 'relay.config.json'],
      app,
    );
    expect(result.code, `relay-compiler failed:\n${result.output}`).toBe(0);
  }, 30_000);

  it('should type-check with the artifacts relay-compiler wrote', async () => {
    const result = await typecheck(app);
    expect(result.code, `tsc -p test/fixtures/relay-app failed:\n${result.output}`).toBe(0);
  }, 30_000);
});
