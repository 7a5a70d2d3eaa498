import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, runTool, typecheck } from './run-tool.ts';

const app = join(root, 'test/fixtures/codegen-app');

describe('the client-preset fixture client (test/fixtures/codegen-app)', () => {
  it('should generate from schema.graphql with GraphQL Code Generator', async () => {
    await rm(join(app, 'generated'), { recursive: true, force: true });
    const result = await runTool(
      process.execPath,
      [
        join(root, 'node_modules/@graphql-codegen/cli/esm/bin.js'),
        '--config',
        'codegen.ts',
        '--silent',
      ],
      app,
    );
    expect(result.code, `graphql-codegen failed:\n${result.output}`).toBe(0);
  }, 30_000);

  it('should type-check with the code it generated', async () => {
    const result = await typecheck(app);
    expect(result.code, `tsc -p test/fixtures/codegen-app failed:\n${result.output}`).toBe(0);
  }, 30_000);
});
