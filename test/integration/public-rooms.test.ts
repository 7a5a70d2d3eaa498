import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRoom } from '../../src/matrix/rooms.ts';
import { graphql } from '../generated/gql.ts';
import type { PublicRoomsQuery } from '../generated/graphql.ts';
import { startFacade } from '../support/facade.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';

const PublicRooms = graphql(`
  query PublicRooms($first: Int, $after: String, $last: Int, $search: String) {
    publicRooms(first: $first, after: $after, last: $last, search: $search) {
      edges {
        cursor
        node {
          roomId
          room {
            id
          }
          name
          topic
          canonicalAlias
          joinRule
          joinRuleValue
          joinedMemberCount
          worldReadable
          guestAccess
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        endCursor
      }
    }
  }
`);

const PublicRoomsAsRooms = graphql(`
  query PublicRoomsAsRooms($search: String) {
    publicRooms(first: 5, search: $search) {
      edges {
        node {
          roomId
          room {
            name
            isEncrypted
            powerLevels {
              ban
            }
          }
        }
      }
    }
  }
`);

describe('publicRooms', () => {
  it('should walk the directory page by page, every room once, filtered by search', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'directory');
    const word = `zebra${randomBytes(4).toString('hex')}`;
    const created = new Set<string>();
    for (let index = 0; index < 5; index++) {
      const { roomId } = await createRoom(alice.client, {
        visibility: 'public',
        preset: 'public_chat',
        name: `${word} ${index}`,
        topic: `About ${word}`,
      });
      created.add(roomId);
    }
    // A published room without the word stays out of the search.
    await createRoom(alice.client, { visibility: 'public', preset: 'public_chat', name: 'Other' });

    await using facade = startFacade();
    const token = alice.user.accessToken;
    const seen: string[] = [];
    let after: string | null = null;
    const pages: { hasNextPage: boolean; hasPreviousPage: boolean }[] = [];
    do {
      const result: { data?: PublicRoomsQuery | null; errors?: unknown } = await facade.graphql(
        PublicRooms,
        {
          token,
          variables: { first: 2, after, search: word },
        },
      );
      expect(result.errors).toBeUndefined();
      const connection: PublicRoomsQuery['publicRooms'] | undefined = result.data?.publicRooms;
      seen.push(...(connection?.edges.map((edge) => edge.node.roomId) ?? []));
      pages.push({
        hasNextPage: connection?.pageInfo.hasNextPage ?? false,
        hasPreviousPage: connection?.pageInfo.hasPreviousPage ?? false,
      });
      after = connection?.pageInfo.hasNextPage ? (connection.pageInfo.endCursor ?? null) : null;
    } while (after !== null);

    expect(seen).toHaveLength(5);
    expect(new Set(seen)).toEqual(created);
    expect(pages).toEqual([
      { hasNextPage: true, hasPreviousPage: false },
      { hasNextPage: true, hasPreviousPage: true },
      { hasNextPage: false, hasPreviousPage: true },
    ]);

    const one = await facade.graphql(PublicRooms, { token, variables: { first: 1, search: word } });
    const node = one.data?.publicRooms.edges[0]?.node;
    expect(node).toMatchObject({
      name: expect.stringContaining(word),
      topic: `About ${word}`,
      joinRule: 'PUBLIC',
      joinedMemberCount: 1,
      worldReadable: false,
      guestAccess: 'FORBIDDEN',
    });
    // Not a second node with the room's ID: the Room is linked, under its own type.
    expect(node?.room).toEqual({ id: node?.roomId });
  });

  it("should refuse another search's cursor and backward paging before any upstream call", async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'directory-cursor');
    await createRoom(alice.client, { visibility: 'public', preset: 'public_chat', name: 'Seen' });
    await using facade = startFacade();
    const token = alice.user.accessToken;
    const first = await facade.graphql(PublicRooms, { token, variables: { first: 1 } });
    const cursor = first.data?.publicRooms.edges[0]?.cursor ?? '';
    expect(cursor).not.toBe('');

    facade.upstream.reset();
    const otherSearch = await facade.graphql(PublicRooms, {
      token,
      variables: { first: 1, after: cursor, search: 'something else' },
    });
    expect(otherSearch.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'after',
    });
    const backward = await facade.graphql(PublicRooms, { token, variables: { last: 2 } });
    expect(backward.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'last',
    });
    expect(facade.upstream.count()).toBe(0);
  });

  it('should answer null for a directory room the viewer may not read, and leave no rejection unhandled', async () => {
    await using upstream = newUpstream();
    const [owner, visitor] = await Promise.all([
      newUserClient(upstream, 'directory-owner'),
      newUserClient(upstream, 'directory-visitor'),
    ]);
    const word = `okapi${randomBytes(4).toString('hex')}`;
    const { roomId } = await createRoom(owner.client, {
      visibility: 'public',
      preset: 'public_chat',
      name: word,
    });
    // graphql-js stops waiting for a failed object's other fields; their rejections must not be
    // left unhandled (a Node process ends on one).
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      await using facade = startFacade();
      const result = await facade.graphql(PublicRoomsAsRooms, {
        token: visitor.user.accessToken,
        variables: { search: word },
      });
      await new Promise((resolve) => setTimeout(resolve, 200));

      expect(result.data?.publicRooms.edges).toEqual([{ node: { roomId, room: null } }]);
      expect(result.errors?.[0]).toMatchObject({
        path: ['publicRooms', 'edges', 0, 'node', 'room', expect.any(String)],
        extensions: { code: 'FORBIDDEN' },
      });
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });
});
