/**
 * One room's failure stays with that room: the other rooms of a list, and the other root fields
 * of the request, come back intact, and the error's path names the failing room.
 */
import { describe, expect, it } from 'vitest';
import { createRoom } from '../../src/matrix/rooms.ts';
import { graphql } from '../generated/gql.ts';
import { startFacade } from '../support/facade.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { homeserver, newUpstream, newUserClient } from '../support/homeserver.ts';

const RoomsWithLatestMessage = graphql(`
  query RoomsWithLatestMessage {
    viewer {
      userId
    }
    rooms(first: 20) {
      edges {
        node {
          id
          name
          messages(last: 1) {
            edges {
              node {
                type
              }
            }
          }
        }
      }
    }
  }
`);

describe('error locality', () => {
  it("should keep the other 19 rooms and the viewer when one room's timeline is refused", async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'locality');
    const roomIds: string[] = [];
    for (let index = 0; index < 20; index++) {
      roomIds.push((await createRoom(alice.client, { name: `Room ${index}` })).roomId);
    }
    const failing = roomIds[7] ?? '';
    await using proxy = await startFaultProxy(homeserver().url);
    // Rate limited for longer than the facade waits: the refusal reaches the client.
    proxy.inject(
      { kind: 'rate-limit', retryAfterSeconds: 600 },
      { path: new RegExp(`/rooms/${encodeURIComponent(failing)}/messages`), times: Infinity },
    );
    // On the /sync plan each room's page is a /messages call of its own (sliding sync brings
    // the latest messages with the list, in the one call).
    await using facade = startFacade({ MATRIX_HOMESERVER_URL: proxy.url, ROOM_LIST_PLAN: 'sync' });

    const result = await facade.graphql(RoomsWithLatestMessage, { token: alice.user.accessToken });

    expect(result.data?.viewer.userId).toBe(alice.user.userId);
    const nodes = result.data?.rooms.edges.map((edge) => edge.node) ?? [];
    expect(nodes).toHaveLength(20);
    const index = nodes.findIndex((node) => node.id === failing);
    for (const [position, node] of nodes.entries()) {
      if (position === index) {
        expect(node.messages).toBeNull();
      } else {
        expect(node.messages?.edges.map((edge) => edge.node.type)).toEqual(['m.room.name']);
      }
    }
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]).toMatchObject({
      path: ['rooms', 'edges', index, 'node', 'messages'],
      extensions: { code: 'RATE_LIMITED', matrix: { errcode: 'M_LIMIT_EXCEEDED', status: 429 } },
    });
  });
});
