/**
 * `npm run bench`: what the facade adds to an upstream call. Starts a local Synapse and the facade
 * on loopback, then times `whoami` sent straight to Synapse against `{ viewer { userId } }` sent
 * to the facade (which makes that same whoami call), sequentially and with concurrency.
 * Prints figures; asserts nothing.
 *
 *   BENCH_REQUESTS   requests per series (default 500)
 *   BENCH_CONCURRENCY  in-flight requests in the concurrent series (default 16)
 */
import { Agent, request } from 'undici';
import { provisionSynapse, startSynapse } from '../scripts/synapse/homeserver.ts';
import { registerUser } from '../scripts/synapse/register.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { buildApp } from '../src/server/app.ts';

const total = Number(process.env['BENCH_REQUESTS'] ?? 500);
const concurrency = Number(process.env['BENCH_CONCURRENCY'] ?? 16);

await provisionSynapse();
await using synapse = await startSynapse();
const user = await registerUser(synapse.url, synapse.registrationSharedSecret);
const app = buildApp({
  config: loadConfig({ MATRIX_HOMESERVER_URL: synapse.url, PORT: '0' }),
  logger: createLogger('silent'),
});
const facadeUrl = await app.start();
const client = new Agent({ connections: concurrency });
const authorization = `Bearer ${user.accessToken}`;

async function direct(): Promise<void> {
  const response = await request(`${synapse.url}/_matrix/client/v3/account/whoami`, {
    dispatcher: client,
    headers: { authorization },
  });
  await expectOk(response.statusCode, await response.body.text());
}

async function viaFacade(): Promise<void> {
  const response = await request(`${facadeUrl}/graphql`, {
    dispatcher: client,
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ viewer { userId } }' }),
  });
  const text = await response.body.text();
  await expectOk(response.statusCode, text);
  if (text.includes('"errors"')) {
    throw new Error(`GraphQL error: ${text}`);
  }
}

async function expectOk(status: number, text: string): Promise<void> {
  if (status !== 200) {
    throw new Error(`HTTP ${status}: ${text.slice(0, 200)}`);
  }
}

/** Runs `count` calls with `parallel` in flight; returns per-call latencies and the wall time. */
async function series(call: () => Promise<void>, count: number, parallel: number) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        next++;
        const begin = performance.now();
        await call();
        latencies.push(performance.now() - begin);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), wallMs: performance.now() - started };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

const rows: string[][] = [];
for (const parallel of [1, concurrency]) {
  for (const [name, call] of [
    ['whoami → Synapse', direct],
    ['viewer → facade → Synapse', viaFacade],
  ] as const) {
    await series(call, 50, parallel); // warm-up: connections, JIT
    const { latencies, wallMs } = await series(call, total, parallel);
    rows.push([
      name,
      String(parallel),
      percentile(latencies, 50).toFixed(2),
      percentile(latencies, 95).toFixed(2),
      percentile(latencies, 99).toFixed(2),
      ((total / wallMs) * 1000).toFixed(0),
    ]);
  }
}

const header = ['series', 'in flight', 'p50 ms', 'p95 ms', 'p99 ms', 'req/s'];
const widths = header.map((title, index) =>
  Math.max(title.length, ...rows.map((row) => row[index]?.length ?? 0)),
);
const line = (cells: string[]) =>
  cells.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join('  ');
process.stdout.write(`${total} requests per series, Synapse ${synapse.url}\n`);
process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);

await app.stop();
await client.close();
