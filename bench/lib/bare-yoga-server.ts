/**
 * A child process for the bench's yoga floor (bench/lib/floors.ts): graphql-yoga with its
 * defaults and a one-field schema on a plain `node:http` server, on a free loopback port. It
 * prints its port, then serves until killed. What `{ __typename }` costs here is what the
 * decided HTTP stack costs any request, before a limit, a log line or a resolver of the facade.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';

const yoga = createYoga({
  schema: createSchema({ typeDefs: 'type Query { ok: Boolean }' }),
  logging: false,
  landingPage: false,
  graphiql: false,
});
const server = createServer(yoga);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
