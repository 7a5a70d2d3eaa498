/**
 * Trusted documents: with TRUSTED_DOCUMENTS set to the manifest codegen writes for the test
 * operations (test/generated/persisted-documents.json), a client can send a document's ID instead
 * of its text, over HTTP and graphql-ws alike; with TRUSTED_DOCUMENTS_ONLY, nothing else runs, and
 * every refusal costs no upstream call.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { print } from 'graphql';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { buildApp } from '../../src/server/app.ts';
import { graphql } from '../generated/gql.ts';
import { homeserver, newUpstream, newUserClient } from '../support/homeserver.ts';
import { startServer, type TestServer } from '../support/server.ts';

const MANIFEST = 'test/generated/persisted-documents.json';

const TrustedViewer = graphql(`
  query TrustedViewer {
    viewer {
      userId
    }
  }
`);

const TrustedMembership = graphql(`
  subscription TrustedMembership {
    myMembership {
      membership
    }
  }
`);

/** The ID codegen gave `document` in the manifest (`sha256:<hex>`). */
function idOf(document: object): string {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  if (typeof hash !== 'string') {
    throw new Error('the document carries no persisted-document hash: check codegen.ts');
  }
  return hash;
}

const byId = (id: string) => ({ persistedQuery: { version: 1, sha256Hash: id } });

/** POSTs `body` with the token; the status, the body and the upstream calls it made. */
async function post(server: TestServer, token: string, body: unknown) {
  server.upstream.reset();
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as {
      data?: unknown;
      errors?: { message: string; extensions?: Record<string, unknown> }[];
    },
    upstream: server.upstream.count(),
  };
}

async function withUser() {
  await using upstream = newUpstream();
  const alice = await newUserClient(upstream, 'trusted');
  return alice.user;
}

describe('trusted documents only (TRUSTED_DOCUMENTS_ONLY=true)', () => {
  const environment = { TRUSTED_DOCUMENTS: MANIFEST, TRUSTED_DOCUMENTS_ONLY: 'true' };

  it('should run a trusted document sent by ID, with or without the sha256: prefix', async () => {
    const user = await withUser();
    await using server = await startServer({ environment });
    const id = idOf(TrustedViewer);
    for (const sent of [id, id.replace(/^sha256:/, '')]) {
      const answer = await post(server, user.accessToken, { extensions: byId(sent) });
      expect(answer).toEqual({
        status: 200,
        body: { data: { viewer: { userId: user.userId } } },
        upstream: 1,
      });
    }
  });

  it('should refuse a document sent as text, even a trusted one, with no upstream call', async () => {
    const user = await withUser();
    await using server = await startServer({ environment });
    for (const query of [print(TrustedViewer), '{ viewer { userId } }']) {
      const answer = await post(server, user.accessToken, { query });
      expect(answer.status).toBe(400);
      expect(answer.body.errors).toEqual([
        expect.objectContaining({ extensions: { code: 'PERSISTED_QUERY_ONLY' } }),
      ]);
      expect(answer.upstream).toBe(0);
    }
  });

  it('should refuse an unknown or malformed ID, and a request with neither ID nor text', async () => {
    const user = await withUser();
    await using server = await startServer({ environment });
    const cases = [
      [{ extensions: byId('0'.repeat(64)) }, 'PERSISTED_QUERY_NOT_FOUND'],
      [{ extensions: byId('not a hash') }, 'PERSISTED_QUERY_NOT_FOUND'],
      [{ extensions: byId('x'.repeat(100_000)) }, 'PERSISTED_QUERY_NOT_FOUND'],
      [{ variables: {} }, 'PERSISTED_QUERY_ID_REQUIRED'],
    ] as const;
    for (const [body, code] of cases) {
      const answer = await post(server, user.accessToken, body);
      expect(answer.status, code).toBe(400);
      expect(answer.body.errors).toEqual([expect.objectContaining({ extensions: { code } })]);
      expect(answer.upstream).toBe(0);
    }
  });

  it('should run trusted documents by ID over graphql-ws, and answer a text with an error that leaves the socket open', async () => {
    const user = await withUser();
    await using server = await startServer({ environment });
    await using client = server.client(user.accessToken);
    const run = (payload: { query: string; extensions?: Record<string, unknown> }) =>
      new Promise<unknown>((resolve) => {
        const results: unknown[] = [];
        client.subscribe(payload, {
          next: (value) => results.push(value),
          error: (error) => resolve({ error }),
          complete: () => resolve({ results }),
        });
      });

    expect(await run({ query: '{ viewer { userId } }' })).toEqual({
      error: [expect.objectContaining({ extensions: { code: 'PERSISTED_QUERY_ONLY' } })],
    });
    expect(await run({ query: '', extensions: byId('0'.repeat(64)) })).toEqual({
      error: [expect.objectContaining({ extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } })],
    });
    expect(await run({ query: '' })).toEqual({
      error: [expect.objectContaining({ extensions: { code: 'PERSISTED_QUERY_ID_REQUIRED' } })],
    });
    // The same socket still runs what is trusted: a query, and a subscription of the sync bridge.
    expect(await run({ query: '', extensions: byId(idOf(TrustedViewer)) })).toEqual({
      results: [{ data: { viewer: { userId: user.userId } } }],
    });
    const unsubscribe = client.subscribe(
      { query: '', extensions: byId(idOf(TrustedMembership)) },
      { next: () => {}, error: () => {}, complete: () => {} },
    );
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(1));
    unsubscribe();
  });
});

describe('trusted documents alongside others (TRUSTED_DOCUMENTS only)', () => {
  it('should run a trusted document by ID and any document sent as text', async () => {
    const user = await withUser();
    await using server = await startServer({ environment: { TRUSTED_DOCUMENTS: MANIFEST } });
    const expected = { status: 200, body: { data: { viewer: { userId: user.userId } } } };
    expect(
      await post(server, user.accessToken, { extensions: byId(idOf(TrustedViewer)) }),
    ).toMatchObject(expected);
    expect(await post(server, user.accessToken, { query: '{ viewer { userId } }' })).toMatchObject(
      expected,
    );
    expect(
      (await post(server, user.accessToken, { extensions: byId('0'.repeat(64)) })).body.errors,
    ).toEqual([expect.objectContaining({ extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } })]);
  });
});

describe('trusted documents configuration', () => {
  const base = { MATRIX_HOMESERVER_URL: 'http://127.0.0.1:1', PORT: '0' };

  it('should refuse TRUSTED_DOCUMENTS_ONLY without a manifest', () => {
    expect(() => loadConfig({ ...base, TRUSTED_DOCUMENTS_ONLY: 'true' })).toThrow(
      /TRUSTED_DOCUMENTS_ONLY: needs TRUSTED_DOCUMENTS/,
    );
  });

  it('should refuse to start with a manifest whose IDs are not the hashes of their documents', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trusted-'));
    const cases = [
      [{ [`sha256:${'0'.repeat(64)}`]: '{ viewer { userId } }' }, /is not the SHA-256/],
      [['{ viewer { userId } }'], /must map document IDs to document texts/],
      ['{ not json', /cannot read .* as JSON/],
    ] as const;
    for (const [content, message] of cases) {
      const path = join(dir, 'manifest.json');
      await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
      const config = loadConfig({
        ...base,
        MATRIX_HOMESERVER_URL: homeserver().url,
        TRUSTED_DOCUMENTS: path,
      });
      expect(() => buildApp({ config, logger: createLogger('silent') })).toThrow(ConfigError);
      expect(() => buildApp({ config, logger: createLogger('silent') })).toThrow(message);
    }
  });
});
