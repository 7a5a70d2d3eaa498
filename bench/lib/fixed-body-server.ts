/**
 * A child process for the bench's HTTP floor (bench/lib/floors.ts): a plain `node:http` server on
 * a free loopback port that answers every `POST` with the JSON body last given to it by `PUT`,
 * after reading the request whole, as the facade does. It prints its port, then serves until
 * killed. Nothing of GraphQL or the facade runs in it: what a read costs it is what any answer of
 * those bytes costs on this machine.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let body = Buffer.from('{}');

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    if (request.method === 'PUT') {
      body = Buffer.concat(chunks);
      response.writeHead(204).end();
      return;
    }
    response.writeHead(200, {
      'content-type': 'application/graphql-response+json; charset=utf-8',
      'content-length': body.length,
    });
    response.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
