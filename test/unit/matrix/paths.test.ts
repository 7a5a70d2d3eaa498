import { describe, expect, it } from 'vitest';
import {
  CLIENT_API_PREFIX,
  clientPath,
  queryString,
  redactQuery,
} from '../../../src/matrix/paths.ts';

describe('clientPath', () => {
  it('should prefix the Client-Server API base path', () => {
    expect(clientPath`/account/whoami`).toBe('/_matrix/client/v3/account/whoami');
    expect(CLIENT_API_PREFIX).toBe('/_matrix/client/v3');
  });

  it('should encode a room ID as one segment', () => {
    expect(clientPath`/rooms/${'!room:server'}/state`).toBe(
      '/_matrix/client/v3/rooms/!room%3Aserver/state',
    );
  });

  it('should encode an alias, whose # would otherwise start a fragment', () => {
    expect(clientPath`/directory/room/${'#alias:server'}`).toBe(
      '/_matrix/client/v3/directory/room/%23alias%3Aserver',
    );
  });

  it('should encode an event ID containing slashes as one segment', () => {
    expect(clientPath`/rooms/${'!r:s'}/event/${'$event/with/slash'}`).toBe(
      '/_matrix/client/v3/rooms/!r%3As/event/%24event%2Fwith%2Fslash',
    );
  });

  it('should keep an empty state key as an empty final segment', () => {
    expect(clientPath`/rooms/${'!r:s'}/state/${'m.room.name'}/${''}`).toBe(
      '/_matrix/client/v3/rooms/!r%3As/state/m.room.name/',
    );
  });

  it('should not let a value add a query or fragment', () => {
    const path = clientPath`/profile/${'@a:s?access_token=x#y'}`;
    expect(path).toBe('/_matrix/client/v3/profile/%40a%3As%3Faccess_token%3Dx%23y');
    expect(new URL(path, 'http://hs.test').search).toBe('');
  });

  it('should let every value be decoded back exactly', () => {
    const values = ['!room:server', '$ev/ent+1', '@ünï cødé:server', 'a%2Fb', ''];
    const path = clientPath`/x/${values[0] ?? ''}/${values[1] ?? ''}/${values[2] ?? ''}/${values[3] ?? ''}/${values[4] ?? ''}`;
    const segments = path.split('/').slice(5).map(decodeURIComponent);
    expect(segments).toEqual(values);
  });
});

describe('queryString', () => {
  it('should be empty for no parameters', () => {
    expect(queryString({})).toBe('');
    expect(queryString({ from: undefined, to: undefined })).toBe('');
  });

  it('should drop undefined parameters and keep the others in order', () => {
    expect(queryString({ from: undefined, dir: 'b', limit: 10, full_state: false })).toBe(
      '?dir=b&limit=10&full_state=false',
    );
  });

  it('should repeat a parameter for each array item, and leave out an empty array', () => {
    expect(queryString({ via: ['a.org', 'b.org'] })).toBe('?via=a.org&via=b.org');
    expect(queryString({ via: [] })).toBe('');
  });

  it('should encode values so that they cannot break out of the query', () => {
    const filter = '{"types":["m.room.message"],"x":"a&b=c d#e"}';
    const text = queryString({ filter, since: 's1_2/3+4' });
    expect(text).not.toMatch(/[{}"#\s]|&b=/);
    const parsed = new URLSearchParams(text.slice(1));
    expect(parsed.get('filter')).toBe(filter);
    expect(parsed.get('since')).toBe('s1_2/3+4');
  });
});

describe('redactQuery', () => {
  it('should leave a path without a query alone', () => {
    expect(redactQuery('/_matrix/client/v3/joined_rooms')).toBe('/_matrix/client/v3/joined_rooms');
  });

  it('should blank every value and keep the keys', () => {
    expect(redactQuery('/_matrix/client/v3/sync?since=s72594_4483_1934&timeout=30000')).toBe(
      '/_matrix/client/v3/sync?since=&timeout=',
    );
  });

  it('should blank encoded values, repeated keys and keys without a value', () => {
    const redacted = redactQuery(
      `/x${queryString({ access_token: 'syt_secret==', via: ['a.org', 'b.org'] })}&flag`,
    );
    expect(redacted).toBe('/x?access_token=&via=&via=&flag=');
  });

  it('should encode keys again after blanking', () => {
    expect(redactQuery('/x?a%20b=1&c%26d=2')).toBe('/x?a%20b=&c%26d=');
  });
});
