/**
 * One user attacks with the costliest and largest requests the limits allow, over HTTP and
 * websocket, while another user's cheap query keeps being answered: a throughput floor for the
 * victim, not a latency bound. Afterwards the heap comes back near where it was. Loopback only,
 * bounded in time and count.
 */
import { describe, expect, it } from 'vitest';
import { sendMessageEvent } from '../../src/matrix/room-events.ts';
import { createRoom, inviteUser, joinRoom } from '../../src/matrix/rooms.ts';
import { settledHeapUsed } from '../support/heap.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';
import { startServer } from '../support/server.ts';

/** How long the attack lasts. */
const ATTACK_MS = 8000;
/** Requests each attacking worker sends at most. */
const MAX_REQUESTS_PER_WORKER = 500;
const MAX_ALIASES = 15;

/** Every room with full pages of members and messages, `count` times aliased. */
const costliest = (count: number) =>
  `{ ${Array.from(
    { length: count },
    (_, index) =>
      `r${index}: rooms(first: 100) { edges { node { id name topic members(first: 100) { edges { node { displayName powerLevel user { displayName avatarUrl } } } } messages(first: 100) { edges { cursor node { id type sender { displayName } } } } } } }`,
  ).join(' ')} }`;
/** Close to MAX_TOKENS (2,000): aliased viewers, then `__typename` fields. */
const mostTokens = `{ ${Array.from(
  { length: MAX_ALIASES },
  (_, index) => `v${index}: viewer { userId user { id displayName avatarUrl } }`,
).join(' ')} ${'__typename '.repeat(1700)}}`;
/** A body just under MAX_BODY_BYTES (256 KiB): an undeclared variable is parsed, then ignored. */
const largestBody = JSON.stringify({
  query: '{ viewer { userId } }',
  variables: { padding: 'x'.repeat(250_000) },
});
const httpAttacks = [
  JSON.stringify({ query: costliest(MAX_ALIASES) }),
  JSON.stringify({ query: costliest(3) }),
  JSON.stringify({ query: costliest(1) }),
  JSON.stringify({ query: mostTokens }),
  largestBody,
];

describe('an attacker and a victim', () => {
  it('should keep answering the victim while the attacker runs the costliest requests, and give the memory back', async () => {
    await using upstream = newUpstream();
    const attacker = await newUserClient(upstream, 'attacker');
    const helper = await newUserClient(upstream, 'attacker-peer');
    const victim = await newUserClient(upstream, 'victim');
    // Rooms with members and messages, so that full pages cost the attacker real calls.
    for (let room = 0; room < 3; room++) {
      const { roomId } = await createRoom(attacker.client, { name: `Costly ${room}` });
      await inviteUser(attacker.client, roomId, helper.user.userId);
      await joinRoom(helper.client, roomId);
      for (let message = 0; message < 10; message++) {
        await sendMessageEvent(attacker.client, roomId, 'm.room.message', `m${room}-${message}`, {
          msgtype: 'm.text',
          body: `message ${message}`,
        });
      }
    }
    await using server = await startServer({ environment: { OPERATION_DEADLINE_MS: '10000' } });
    const post = (token: string, body: string, signal?: AbortSignal) =>
      fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          authorization: `Bearer ${token}`,
        },
        body,
        ...(signal ? { signal } : {}),
      });
    // Warm up (the document cache, pools, lazy modules) before the baseline.
    for (const body of httpAttacks) {
      await (await post(attacker.user.accessToken, body)).text();
    }
    const baseline = await settledHeapUsed();

    const stop = new AbortController();
    const deadline = Date.now() + ATTACK_MS;
    const attackStatuses: number[] = [];
    const httpWorker = async (worker: number) => {
      for (let sent = 0; sent < MAX_REQUESTS_PER_WORKER && Date.now() < deadline; sent++) {
        const body = httpAttacks[(worker + sent) % httpAttacks.length] ?? largestBody;
        try {
          const response = await post(attacker.user.accessToken, body, stop.signal);
          await response.text();
          attackStatuses.push(response.status);
        } catch (error) {
          if (!stop.signal.aborted) {
            throw error;
          }
        }
      }
    };
    const wsWorker = async () => {
      await using client = server.client(attacker.user.accessToken);
      for (let sent = 0; sent < MAX_REQUESTS_PER_WORKER && Date.now() < deadline; sent++) {
        const query = sent % 2 === 0 ? costliest(3) : mostTokens;
        await new Promise<void>((resolve) => {
          client.subscribe(
            { query },
            { next: () => {}, error: () => resolve(), complete: () => resolve() },
          );
        });
      }
    };
    const victimResults: { ok: boolean; detail: string }[] = [];
    const victimLoop = async () => {
      while (Date.now() < deadline) {
        const response = await post(victim.user.accessToken, '{"query":"{ viewer { userId } }"}');
        const text = await response.text();
        victimResults.push({
          ok:
            response.status === 200 &&
            text === JSON.stringify({ data: { viewer: { userId: victim.user.userId } } }),
          detail: `${response.status} ${text.slice(0, 300)}`,
        });
      }
    };

    const attack = Promise.all([
      ...[0, 1, 2, 3].map((worker) => httpWorker(worker)),
      wsWorker(),
      wsWorker(),
    ]);
    await victimLoop();
    stop.abort();
    await attack;

    expect(victimResults.filter((result) => !result.ok).map((result) => result.detail)).toEqual([]);
    // A throughput floor: the victim's cheap queries went on through the whole attack.
    expect(victimResults.length).toBeGreaterThanOrEqual(20);
    expect(attackStatuses.length).toBeGreaterThan(0);
    expect(attackStatuses.filter((status) => status >= 500)).toEqual([]);

    // Let aborted operations wind down, then the heap must come back near its baseline.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await settledHeapUsed();
    console.info(
      `victim: ${victimResults.length} queries in ${ATTACK_MS} ms; attacker: ${attackStatuses.length} HTTP answers; heap ${(baseline / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MB`,
    );
    expect(after - baseline).toBeLessThan(64 * 2 ** 20);
  });
});
