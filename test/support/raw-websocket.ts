/**
 * A websocket speaking `graphql-transport-ws` by hand, for what the graphql-ws client will not
 * send: messages out of order, malformed or oversized, reused IDs.
 */
import WebSocket from 'ws';

/** How the server closed the socket. */
export interface Closed {
  readonly code: number;
  readonly reason: string;
}

/** A message the server sent, parsed. */
export interface ServerMessage {
  readonly type: string;
  readonly id?: string;
  readonly payload?: unknown;
}

export interface RawSocket extends AsyncDisposable {
  /** Every message received so far, in order. */
  readonly messages: ServerMessage[];
  /** Settles when the socket closes, with the server's code and reason. */
  readonly closed: Promise<Closed>;
  /** Sends a string as is, anything else as JSON. */
  send(message: unknown): void;
  /** The first message (received so far or later) that `matches`. */
  next(matches: (message: ServerMessage) => boolean): Promise<ServerMessage>;
  /** Sends `connection_init` with the token (none: an empty payload) and awaits the ack. */
  init(token?: string): Promise<void>;
}

/** Opens a socket to `url` offering `protocol` (`null`: none), resolving once it is open. */
export async function openRawSocket(
  url: string,
  protocol: string | null = 'graphql-transport-ws',
): Promise<RawSocket> {
  const socket = protocol === null ? new WebSocket(url) : new WebSocket(url, protocol);
  const messages: ServerMessage[] = [];
  const waiters: {
    matches: (message: ServerMessage) => boolean;
    resolve: (m: ServerMessage) => void;
  }[] = [];
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString('utf8')) as ServerMessage;
    messages.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.matches(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  const closed = new Promise<Closed>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const next = (matches: (message: ServerMessage) => boolean) => {
    const seen = messages.find(matches);
    if (seen) {
      return Promise.resolve(seen);
    }
    return new Promise<ServerMessage>((resolve, reject) => {
      waiters.push({ matches, resolve });
      void closed.then((close) =>
        reject(new Error(`closed (${close.code} ${close.reason}) before the message came`)),
      );
    });
  };
  return {
    messages,
    closed,
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    next,
    async init(token) {
      socket.send(
        JSON.stringify({
          type: 'connection_init',
          payload: token === undefined ? {} : { authorization: `Bearer ${token}` },
        }),
      );
      await next((message) => message.type === 'connection_ack');
    },
    async [Symbol.asyncDispose]() {
      if (socket.readyState !== WebSocket.CLOSED) {
        socket.close();
        await closed;
      }
    },
  };
}
