import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { endpointTemplate, OTHER_ENDPOINT } from '../../../src/matrix/endpoint-template.ts';
import { CLIENT_API_PREFIX, clientPath } from '../../../src/matrix/paths.ts';
import { adminPath, SYNAPSE_ADMIN_PREFIX } from '../../../src/matrix/synapse-admin.ts';

describe('endpointTemplate', () => {
  it('should blank room IDs, event IDs, user IDs, aliases and transaction IDs', () => {
    const roomId = '!abc:example.org';
    const eventId = '$ev/ent+id:example.org';
    expect(endpointTemplate(clientPath`/rooms/${roomId}/messages`)).toBe(
      '/_matrix/client/v3/rooms/{roomId}/messages',
    );
    expect(endpointTemplate(clientPath`/rooms/${roomId}/event/${eventId}`)).toBe(
      '/_matrix/client/v3/rooms/{roomId}/event/{eventId}',
    );
    expect(endpointTemplate(clientPath`/rooms/${roomId}/send/${'m.room.message'}/${'txn-1'}`)).toBe(
      '/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}',
    );
    expect(endpointTemplate(clientPath`/profile/${'@alice:example.org'}/displayname`)).toBe(
      '/_matrix/client/v3/profile/{userId}/displayname',
    );
    expect(endpointTemplate(clientPath`/directory/room/${'#lobby:example.org'}`)).toBe(
      '/_matrix/client/v3/directory/room/{roomAlias}',
    );
    expect(endpointTemplate(clientPath`/join/${'#lobby:example.org'}`)).toBe(
      '/_matrix/client/v3/join/{roomIdOrAlias}',
    );
  });

  it('should match the empty state key as a parameter', () => {
    expect(endpointTemplate(clientPath`/rooms/${'!a:b'}/state/${'m.room.name'}/${''}`)).toBe(
      '/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}',
    );
    expect(endpointTemplate(clientPath`/rooms/${'!a:b'}/state`)).toBe(
      '/_matrix/client/v3/rooms/{roomId}/state',
    );
  });

  it('should ignore the query', () => {
    expect(endpointTemplate(`${clientPath`/sync`}?since=s72594_4483_1934&timeout=30000`)).toBe(
      '/_matrix/client/v3/sync',
    );
  });

  it('should prefer a literal segment to a parameter', () => {
    expect(endpointTemplate(adminPath`/v2/rooms/delete_status/${'abc'}`)).toBe(
      '/_synapse/admin/v2/rooms/delete_status/{deleteId}',
    );
    expect(endpointTemplate(adminPath`/v2/rooms/${'!a:b'}`)).toBe(
      '/_synapse/admin/v2/rooms/{roomId}',
    );
    expect(endpointTemplate(adminPath`/v2/rooms/${'!a:b'}/delete_status`)).toBe(
      '/_synapse/admin/v2/rooms/{roomId}/delete_status',
    );
    expect(endpointTemplate(clientPath`/rooms/${'!a:b'}/kick`)).toBe(
      '/_matrix/client/v3/rooms/{roomId}/kick',
    );
  });

  it('should give one bounded label to any unknown path, never the path', () => {
    for (const path of [
      '/_matrix/client/v3/rooms/!secret:example.org/unknown',
      '/_matrix/client/v3/sync/',
      '/_matrix/client/v3/rooms',
      '/something/else',
      'syt_token_without_slash',
      '',
      '/',
      '/_matrix/client/v3/rooms/!a:b/send/m.room.message/txn/extra',
    ]) {
      expect(endpointTemplate(path)).toBe(OTHER_ENDPOINT);
    }
  });

  it('should know every endpoint the facade calls', () => {
    // Each template's parameters filled with IDs: the template comes back, never an ID.
    const templates = [
      '/_matrix/client/versions',
      '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync',
      '/_matrix/client/v3/user/{userId}/account_data/{type}',
      '/_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}',
    ];
    for (const template of templates) {
      const path = template.replaceAll(/\{[^}]+\}/g, encodeURIComponent('!id:example.org'));
      expect(endpointTemplate(path)).toBe(template);
    }
  });
});

describe('the endpoints src/matrix calls', () => {
  it('should each have a template, so that no call of the facade is counted as other', () => {
    const dir = resolve(import.meta.dirname, '../../../src/matrix');
    const paths = readdirSync(dir)
      .filter((file) => file.endsWith('.ts'))
      .flatMap((file) =>
        [...readFileSync(resolve(dir, file), 'utf8').matchAll(/(clientPath|adminPath)`(\/[^`]*)`/g)]
          .map(([, tag, path = '']) => ({ file, tag, path: path.replace(/\$\{[^}]*\}/g, 'x') }))
          // rooms.ts completes `/rooms/{roomId}` with the membership action (invite, kick, …),
          // each listed in the templates and checked above.
          .filter(({ path }) => path !== '/rooms/x'),
      );
    expect(paths.length).toBeGreaterThan(30);
    const unknown = paths.filter(
      ({ tag, path }) =>
        endpointTemplate(
          `${tag === 'clientPath' ? CLIENT_API_PREFIX : SYNAPSE_ADMIN_PREFIX}${path}`,
        ) === OTHER_ENDPOINT,
    );
    expect(unknown).toEqual([]);
  });
});
