/**
 * `npm run bench:cluster -- --smoke` runs the single-instance-against-cluster bench tiny, so that it
 * never rots: against the tests' homeserver, with its own Redis and facade processes. Asserted: it
 * exits 0, and for both contenders the long-polls once subscribed equal the users (for the cluster
 * summed over its three instances), no token ever has two in flight, and every subscriber got
 * every message. Never timings.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');

interface ContenderResult {
  contender: 'single' | 'cluster';
  instances: number;
  users: number;
  longPolls: { steady: number; peakPerToken: number };
  delivery: { expectedFrames: number; frames: number; unmatched: number; gaps: number };
}

describe('bench/cluster.ts --smoke', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('holds one long-poll per user on one instance and on three, and delivers every message', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-cluster-smoke-'));
    const homeserver = inject('homeserver');
    const { code, output } = await new Promise<{ code: number | null; output: string }>(
      (resolveRun) => {
        const child = spawn(
          process.execPath,
          ['bench/cluster.ts', '--smoke', '--results-dir', dir],
          {
            cwd: root,
            env: {
              ...process.env,
              MATRIX_HOMESERVER_URL: homeserver.url,
              MATRIX_REGISTRATION_SHARED_SECRET: homeserver.registrationSharedSecret,
            },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let text = '';
        child.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
        });
        child.stderr.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
        });
        child.on('exit', (exitCode) => resolveRun({ code: exitCode, output: text }));
      },
    );
    expect(code, output).toBe(0);

    const result = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as {
      sizes: { users: number };
      contenders: ContenderResult[];
    };
    const users = result.sizes.users;
    expect(result.contenders.map((contender) => contender.instances)).toEqual([1, 3]);
    for (const contender of result.contenders) {
      expect(contender.users, contender.contender).toBe(users);
      expect(contender.longPolls.steady, `${contender.contender} long-polls`).toBe(users);
      expect(contender.longPolls.peakPerToken, `${contender.contender} per token`).toBe(1);
      expect(contender.delivery.frames, contender.contender).toBe(
        contender.delivery.expectedFrames,
      );
      expect(contender.delivery.unmatched, contender.contender).toBe(0);
      expect(contender.delivery.gaps, contender.contender).toBe(0);
      // The printed figure says the same.
      expect(output).toContain(
        `target (${contender.contender}): long-polls = distinct users (${users} for ${users}): met`,
      );
      expect(output).toContain(`target (${contender.contender}): per-token peak = 1 (1): met`);
    }
  }, 120_000);
});
