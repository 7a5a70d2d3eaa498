import { isObjectType, parse, validate, validateExecutionArgs } from 'graphql';
import { describe, expect, it } from 'vitest';
import { FIELD_WEIGHTS, operationCost } from '../../../src/schema/cost.ts';
import { schema } from '../../../src/schema/index.ts';

/** The cost of `query` (the operation `operationName` names), as the server weighs it. */
function cost(query: string, variables?: Record<string, unknown>, operationName?: string): number {
  const document = parse(query);
  expect(validate(schema, document)).toEqual([]);
  const args = validateExecutionArgs({
    schema,
    document,
    ...(variables ? { variableValues: variables } : {}),
    ...(operationName ? { operationName } : {}),
  });
  if (!('operation' in args)) {
    throw new Error(args.map((error) => error.message).join('; '));
  }
  return operationCost(args, {});
}

describe('operationCost', () => {
  it('should weigh each field by the upstream calls it can make', () => {
    expect(cost('{ viewer { userId deviceId } }')).toBe(1);
    expect(cost('{ viewer { user { displayName avatarUrl } } }')).toBe(3);
    expect(cost('{ user(id: "@a:hs") { id displayName } }')).toBe(2);
    expect(cost('{ room(id: "!r:hs") { name topic isDirect myMembership } }')).toBe(2);
    expect(cost('{ room(id: "!r:hs") { stateEvent(type: "m.room.name") { type } } }')).toBe(3);
    expect(cost('{ room(id: "!r:hs") { event(id: "$e") { id } } }')).toBe(3);
    expect(cost('{ roomByAlias(alias: "#a:hs") { id } }')).toBe(3);
    expect(cost('{ directRoom(userId: "@a:hs") { name } }')).toBe(1);
    expect(cost('{ node(id: "!r:hs") { id } }')).toBe(2);
    expect(cost('{ nodes(ids: ["!r:hs", "@a:hs", "@b:hs"]) { id } }')).toBe(6);
  });

  it('should weigh a room list by its page: one /sync, its items multiplied by the page size', () => {
    expect(cost('{ rooms { edges { node { name joinedMemberCount } } } }')).toBe(1);
    expect(
      cost('{ rooms(first: 5) { edges { node { members { pageInfo { hasNextPage } } } } } }'),
    ).toBe(1 + 5 * 1);
    // Default page (20) of members, each with a profile, in each of 3 rooms.
    expect(
      cost(
        '{ rooms(last: 3) { edges { node { members { edges { node { user { displayName } } } } } } } }',
      ),
    ).toBe(1 + 3 * (1 + 20));
    // A room reached from the room list reads nothing more; from the directory it reads its state.
    expect(cost('{ publicRooms(first: 10) { edges { node { name room { name } } } } }')).toBe(
      1 + 10 * 1,
    );
  });

  it('should weigh a messages page at its worst case, one /context more from a cursor', () => {
    expect(cost('{ room(id: "!r:hs") { messages(last: 10) { edges { node { id } } } } }')).toBe(
      2 + 20,
    );
    expect(
      cost('{ room(id: "!r:hs") { messages(last: 10, before: "c") { edges { node { id } } } } }'),
    ).toBe(2 + 21);
    expect(
      cost(
        '{ room(id: "!r:hs") { messages(first: 50) { edges { node { sender { displayName } } } } } }',
      ),
    ).toBe(2 + 20 + 50);
  });

  it('should count a list of unknown size as 100 items', () => {
    expect(cost('{ room(id: "!r:hs") { state { type } } }')).toBe(2 + 1);
    expect(cost('{ room(id: "!r:hs") { state { sender { displayName } } } }')).toBe(2 + 1 + 100);
    expect(cost('{ room(id: "!r:hs") { powerLevels { users { user { avatarUrl } } } } }')).toBe(
      2 + 100,
    );
  });

  it('should clamp page sizes to what a connection may return', () => {
    // first: 1000 is refused with BAD_USER_INPUT when the field runs; it weighs as 100 items.
    expect(
      cost('{ rooms(first: 1000) { edges { node { members { pageInfo { hasNextPage } } } } } }'),
    ).toBe(101);
  });

  it('should weigh the issue’s query far over the default limit', () => {
    expect(
      cost(`{ rooms(first: 100) { edges { node {
        members(first: 100) { edges { node { user { displayName } } } }
        messages(last: 100) { edges { node { id } } }
      } } } }`),
    ).toBe(1 + 100 * (1 + 100 + 20));
  });

  it('should count fragments, inline fragments and aliases each time they appear', () => {
    const fragment =
      'fragment Member on RoomMember { user { displayName } } fragment Room on Room { members(first: 10) { edges { node { ...Member } } } }';
    expect(
      cost(`{ a: room(id: "!a:hs") { ...Room } b: room(id: "!b:hs") { ...Room } } ${fragment}`),
    ).toBe(2 * (2 + 1 + 10));
    expect(
      cost(
        `{ room(id: "!a:hs") { ...Room ... on Room { again: members(first: 5) { edges { node { ...Member } } } } } } ${fragment}`,
      ),
    ).toBe(2 + 1 + 10 + 1 + 5);
    expect(
      cost(
        '{ room(id: "!a:hs") { messages { edges { node { ... on MessageEvent { sender { displayName } } ... on StateEvent { sender { avatarUrl } } } } } } }',
      ),
    ).toBe(2 + 20 + 20 * 2);
  });

  it('should read page sizes from variables, their defaults included', () => {
    const query =
      'query ($n: Int = 7) { rooms(first: $n) { edges { node { members { edges { node { user { displayName } } } } } } } }';
    expect(cost(query)).toBe(1 + 7 * 21);
    expect(cost(query, { n: 3 })).toBe(1 + 3 * 21);
    expect(cost(query, { n: null })).toBe(1 + 20 * 21);
    expect(
      cost('query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: ['!a:hs', '@b:hs'] }),
    ).toBe(4);
  });

  it('should read input objects and enums in variables as execution does', () => {
    const query = 'mutation ($input: SendMessageInput!) { sendMessage(input: $input) { eventId } }';
    expect(cost(query, { input: { roomId: '!r:hs', body: 'hi' } })).toBe(1);
    expect(cost(query, { input: { roomId: '!r:hs', body: 'hi', msgtype: 'NOTICE' } })).toBe(1);
  });

  it('should weigh the operation that runs, not the first of the document', () => {
    const document = `
      query Cheap { viewer { userId } }
      query Dear { rooms(first: 100) { edges { node { members(first: 100) { pageInfo { hasNextPage } } } } } }`;
    expect(cost(document, undefined, 'Cheap')).toBe(1);
    expect(cost(document, undefined, 'Dear')).toBe(101);
  });

  it('should weigh mutations by their calls, and the room their payload reads', () => {
    expect(
      cost('mutation { sendMessage(input: { roomId: "!r:hs", body: "hi" }) { eventId } }'),
    ).toBe(1);
    expect(
      cost('mutation { setRoomName(input: { roomId: "!r:hs", name: "n" }) { room { name } } }'),
    ).toBe(2);
    expect(cost('mutation { createDirectRoom(input: { userId: "@a:hs" }) { created } }')).toBe(5);
    expect(cost('mutation { deleteRoom(input: { roomId: "!r:hs" }) { method } }')).toBe(108);
  });

  it('should weigh subscriptions per event', () => {
    expect(cost('subscription { roomUpdated(roomId: "!r:hs") { name } }')).toBe(1);
    expect(
      cost('subscription { roomEvents(roomId: "!r:hs") { event { sender { displayName } } } }'),
    ).toBe(1);
    expect(cost('subscription { myMembership { membership room { name } } }')).toBe(1);
  });
});

describe('FIELD_WEIGHTS', () => {
  it('should name only fields the schema has', () => {
    for (const key of Object.keys(FIELD_WEIGHTS)) {
      const [typeName = '', fieldName = ''] = key.split('.');
      const type = schema.getType(typeName);
      expect(isObjectType(type) && type.getFields()[fieldName] !== undefined, key).toBe(true);
    }
  });

  it('should weigh every mutation', () => {
    const mutations = Object.keys(schema.getMutationType()?.getFields() ?? {});
    expect(mutations.filter((name) => FIELD_WEIGHTS[`Mutation.${name}`] === undefined)).toEqual([]);
  });
});
