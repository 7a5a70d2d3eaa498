/**
 * The two limits on what one request may cost upstream: the cost computed before execution
 * (`MAX_COST`, src/schema/cost.ts), which refuses an operation with no upstream call at all, and
 * the runtime budget (`MAX_UPSTREAM_CALLS_PER_REQUEST`), which stops a request at its budget.
 */
import { describe, expect, it } from 'vitest';
import { createRoom } from '../../src/matrix/rooms.ts';
import { graphql } from '../generated/gql.ts';
import { startFacade } from '../support/facade.ts';
import { homeserver, newUpstream, newUser, newUserClient } from '../support/homeserver.ts';

/** The query of the issue: 100 rooms, each with 100 members' profiles and 100 messages. */
const EXPENSIVE = `{
  rooms(first: 100) {
    edges { node {
      members(first: 100) { edges { node { user { displayName } } } }
      messages(last: 100) { edges { node { id type } } }
    } }
  }
}`;

/** The README's example query. */
const ReadmeExample = graphql(`
  query ReadmeExample {
    viewer {
      userId
      user {
        displayName
      }
    }
    rooms(first: 20) {
      edges {
        node {
          id
          name
          topic
          joinedMemberCount
          myMembership
          isDirect
          members(first: 5, membership: JOIN) {
            edges {
              node {
                displayName
                powerLevel
              }
            }
          }
          messages(last: 10) {
            edges {
              node {
                sender {
                  id
                }
                originServerTs
                ... on MessageEvent {
                  body
                }
              }
            }
            pageInfo {
              hasPreviousPage
              startCursor
            }
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const RoomsWithMemberProfiles = graphql(`
  query RoomsWithMemberProfiles($rooms: Int) {
    rooms(first: $rooms) {
      edges {
        node {
          members(first: 100) {
            edges {
              node {
                user {
                  displayName
                }
              }
            }
          }
        }
      }
    }
  }
`);

const tooExpensive = (cost: number, limit = 2500) => ({
  message: `The operation could cost ${cost} upstream calls; the server allows ${limit}. Ask for smaller pages or fewer fields.`,
  extensions: { code: 'QUERY_TOO_EXPENSIVE', cost, limit },
});

describe('cost limit', () => {
  it('should refuse the issue’s query before any upstream call, with its cost and the limit', async () => {
    await using facade = startFacade();
    const user = await newUser('cost');
    const result = await facade.graphql(EXPENSIVE, { token: user.accessToken });
    // Refused where execution starts: a GraphQL response with no `data`, as execution errors are.
    expect(result.status).toBe(200);
    expect(result.data).toBeUndefined();
    // 1 (/sync) + 100 rooms × (1 state + 100 profiles + 20 /messages calls at worst).
    expect(result.errors).toEqual([tooExpensive(12_101)]);
    expect(facade.upstream.count()).toBe(0);
  });

  it('should count fragments, inline fragments and aliases as often as they are spread', async () => {
    await using facade = startFacade();
    const user = await newUser('cost');
    const fragment = `
      fragment Timeline on Room {
        messages(last: 100) { edges { node { ... on MessageEvent { sender { displayName } } } } }
      }`;
    const rooms = (alias: string) =>
      `${alias}: rooms(first: 10) { edges { node { ...Timeline } } }`;
    // Each list: 1 + 10 × (20 + 100) = 1,201.
    const three = await facade.graphql(`{ ${['a', 'b', 'c'].map(rooms).join(' ')} } ${fragment}`, {
      token: user.accessToken,
    });
    expect(three.errors).toEqual([tooExpensive(3603)]);
    expect(facade.upstream.count()).toBe(0);

    const two = await facade.graphql(`{ ${['a', 'b'].map(rooms).join(' ')} } ${fragment}`, {
      token: user.accessToken,
    });
    expect(two.errors).toBeUndefined();
    expect(two.data).toEqual({ a: { edges: [] }, b: { edges: [] } });
  });

  it('should weigh a page size given in a variable, or its default', async () => {
    await using facade = startFacade();
    const { user, client } = await newUserClient(newUpstream(), 'cost');
    await createRoom(client, { name: 'costed' });

    const large = await facade.graphql(RoomsWithMemberProfiles, {
      token: user.accessToken,
      variables: { rooms: 100 },
    });
    expect(large.errors).toEqual([tooExpensive(10_101)]);
    expect(facade.upstream.count()).toBe(0);

    // Without the variable, the default page of 20: 1 + 20 × 101 = 2,021.
    const byDefault = await facade.graphql(RoomsWithMemberProfiles, { token: user.accessToken });
    expect(byDefault.errors).toBeUndefined();
    expect(byDefault.data?.rooms.edges).toHaveLength(1);
  });

  it('should let the README’s example through', async () => {
    await using facade = startFacade();
    const { user, client } = await newUserClient(newUpstream(), 'cost');
    await createRoom(client, { name: 'readme' });
    const result = await facade.graphql(ReadmeExample, { token: user.accessToken });
    expect(result.errors).toBeUndefined();
    expect(result.data?.rooms.edges[0]?.node.name).toBe('readme');
  });

  it('should refuse a subscription over its cost before it subscribes', async () => {
    await using facade = startFacade({ MAX_COST: '50' });
    const user = await newUser('cost');
    const response = await facade.app.yoga.fetch('http://facade.test/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${user.accessToken}`,
      },
      body: JSON.stringify({
        query: `subscription { typing(roomId: "!r:${homeserver().serverName}") { displayName } }`,
      }),
    });
    const events = (await response.text())
      .split('\n\n')
      .filter((event) => event.startsWith('event:'));
    expect(events.map((event) => event.split('\n')[0])).toEqual(['event: next', 'event: complete']);
    // A list of unknown size counts 100 items, each with a profile.
    expect(JSON.parse(events[0]?.split('data: ')[1] ?? '')).toEqual({
      errors: [tooExpensive(100, 50)],
    });
    expect(facade.upstream.count()).toBe(0);
  });
});

describe('upstream budget', () => {
  it('should stop a request at its budget of upstream calls', async () => {
    await using facade = startFacade({ MAX_UPSTREAM_CALLS_PER_REQUEST: '3' });
    const user = await newUser('budget');
    const server = homeserver().serverName;
    // Five profiles: five upstream calls, two more than the budget.
    const users = [1, 2, 3, 4, 5]
      .map((n) => `u${n}: user(id: "@nobody-${n}:${server}") { id }`)
      .join(' ');
    const result = await facade.graphql(`{ ${users} }`, { token: user.accessToken });
    expect(facade.upstream.count()).toBe(3);
    const refused = (result.errors ?? []).filter(
      (error) => error.extensions?.['code'] === 'UPSTREAM_BUDGET_EXCEEDED',
    );
    expect(refused).toHaveLength(2);
    expect(refused[0]?.extensions?.['limit']).toBe(3);
    expect(refused[0]?.message).toBe(
      'The request needs more than the 3 upstream calls the server allows for one.',
    );
  });
});
