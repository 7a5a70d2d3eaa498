/**
 * HTTP/1.1 written byte for byte to a socket, for what `fetch` will not send: malformed framing,
 * headers that never end, connections that send nothing.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  /** The status of the response; 0 when the server closed the connection without one. */
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * Sends `request` exactly as given to the server at `url` and reads until the server closes the
 * connection (send `connection: close` when the request is well-formed).
 */
export function rawHttp(url: string, request: string): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A server that drops the connection may reset it rather than close it.
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') {
        reject(error);
      }
    });
    socket.on('close', () => resolve(parseResponse(Buffer.concat(chunks).toString('latin1'))));
    socket.write(request);
  });
}

/**
 * Opens `count` connections that send nothing, resolving once each is connected; disposing
 * destroys them.
 */
export async function idleConnections(
  url: string,
  count: number,
): Promise<Socket[] & AsyncDisposable> {
  const { hostname, port } = new URL(url);
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(Number(port), hostname, () => resolve(socket));
          socket.once('error', reject);
        }),
    ),
  );
  return Object.assign(sockets, {
    [Symbol.asyncDispose]: async () => {
      for (const socket of sockets) {
        socket.destroy();
      }
    },
  });
}

function parseResponse(text: string): RawResponse {
  const headEnd = text.indexOf('\r\n\r\n');
  if (text === '' || headEnd === -1) {
    return { status: 0, headers: {}, body: '' };
  }
  const [statusLine = '', ...headerLines] = text.slice(0, headEnd).split('\r\n');
  const headers = Object.fromEntries(
    headerLines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
    }),
  );
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: text.slice(headEnd + 4),
  };
}
