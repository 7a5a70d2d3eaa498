/**
 * GraphiQL in a real browser (Debian's Chromium) against the facade and the test homeserver: the
 * page loads offline from the facade alone, under its Content-Security-Policy, and a user pastes a
 * token, runs queries and watches a subscription, as the README tells them to.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sendMessageEvent } from '../../src/matrix/room-events.ts';
import { createRoom, joinRoom } from '../../src/matrix/rooms.ts';
import { GraphiQL, isLoopback, launchChromium } from '../support/browser.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';
import { startServer, type TestServer } from '../support/server.ts';

/** Where the screenshots go (gitignored). */
const outputDir = resolve(import.meta.dirname, '../../test-results/browser');

let browser: Browser;
let server: TestServer;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), startServer()]);
  await mkdir(outputDir, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.[Symbol.asyncDispose]();
});

/** A page on GraphiQL, with every request it makes and every console error it logs. */
async function openGraphiQL(context: BrowserContext) {
  const page = await context.newPage();
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('websocket', (socket) => requests.push(socket.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') {
      consoleErrors.push(message.text());
    }
  });
  const response = await page.goto(`${server.url}/graphql`);
  const graphiql = new GraphiQL(page);
  await graphiql.ready();
  return { page, graphiql, response, requests, consoleErrors };
}

/** A unique word (no spaces: Monaco's text is matched as drawn). */
const word = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

describe('GraphiQL in Chromium', () => {
  it('should load from the facade alone, under its CSP, and run viewer and rooms with a pasted token', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'graphiql-alice');
    const roomName = word('graphiql-room');
    await createRoom(alice.client, { name: roomName });

    await using context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const { page, graphiql, response, requests, consoleErrors } = await openGraphiQL(context);
    const policy = response?.headers()['content-security-policy'] ?? '';
    expect(policy).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/]+=*'/);
    expect(policy).toContain("connect-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");

    await graphiql.setHeaders({ Authorization: `Bearer ${alice.user.accessToken}` });
    await graphiql.setOperation('query Me { viewer { userId } }');
    await graphiql.run();
    await graphiql.waitForResult(`"userId": "${alice.user.userId}"`);

    await graphiql.setOperation('query MyRooms { rooms(first: 5) { edges { node { id name } } } }');
    await graphiql.run();
    await graphiql.waitForResult(`"name": "${roomName}"`);

    // The documentation explorer, built from introspection, works under the policy as well.
    await page
      .locator('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]')
      .click();
    await page.locator('.graphiql-doc-explorer-root-type', { hasText: 'Query' }).first().waitFor();

    expect(requests.filter((url) => !isLoopback(url))).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('should show a roomEvents subscription receive a message sent by another user', async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'graphiql-alice'),
      newUserClient(upstream, 'graphiql-bob'),
    ]);
    const { roomId } = await createRoom(alice.client, {
      name: word('graphiql-live'),
      preset: 'public_chat',
    });
    await joinRoom(bob.client, roomId);

    await using context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const { page, graphiql, requests, consoleErrors } = await openGraphiQL(context);
    await graphiql.setHeaders({ Authorization: `Bearer ${alice.user.accessToken}` });
    await graphiql.setOperation(
      `subscription Live { roomEvents(roomId: "${roomId}") { event { type sender { id } ... on MessageEvent { body } } } }`,
    );
    await graphiql.prettify();
    const listenersBefore = server.app.syncStats.listeners;
    await graphiql.run();
    // Live once the facade's sync bridge listens for it: what is sent from then on is delivered.
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(listenersBefore + 1), {
      timeout: 20_000,
    });

    const body = word('hello-from-bob');
    await sendMessageEvent(bob.client, roomId, 'm.room.message', body, {
      msgtype: 'm.text',
      body,
    });
    await graphiql.waitForResult(`"body": "${body}"`);
    expect(await graphiql.resultText()).toContain(`"id": "${bob.user.userId}"`);

    const screenshot = join(outputDir, 'graphiql-subscription.png');
    await page.screenshot({ path: screenshot });
    process.stdout.write(`GraphiQL screenshot: ${screenshot}\n`);

    expect(requests.filter((url) => !isLoopback(url))).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
