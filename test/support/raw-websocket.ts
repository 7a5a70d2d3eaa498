/**
 * A websocket speaking `graphql-transport-ws` by hand, for what the graphql-ws client will not
 * do: send messages out of order, malformed or oversized, reuse IDs, or stop reading (`pause`) as
 * a stalled client does. The e2e tests and the benches (bench/fairness.ts, bench/upstream-faults.ts)
 * share it.
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

/** @typeParam M - the shape the caller reads messages as (not checked: it is the caller's claim). */
export interface RawSocket<M extends ServerMessage = ServerMessage> extends AsyncDisposable {
  /** Every message received so far, in order (none kept with `keepMessages: false`). */
  readonly messages: M[];
  /** Settles when the socket closes, with the server's code and reason. */
  readonly closed: Promise<Closed>;
  /** What `closed` settles with, once the socket has closed; null until then. */
  readonly closure: Closed | null;
  isOpen(): boolean;
  /** Sends a string as is, anything else as JSON. */
  send(message: unknown): void;
  /** The first message (received so far or later) that `matches`. */
  next(matches: (message: M) => boolean): Promise<M>;
  /** Sends `connection_init` with the token (none: an empty payload) and awaits the ack. */
  init(token?: string): Promise<void>;
  /** The messages of operation `id` received so far. */
  of(id: string): M[];
  /** Sends a `subscribe` message. */
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void;
  /**
   * Stops reading from the network, as a client that cannot keep up does: what the server sends
   * fills the kernel's buffers, then waits (or is dropped) in the server.
   */
  pause(): void;
  /** Reads from the network again. */
  resume(): void;
  /** Settles on the server's next ping frame (its keep-alive). */
  nextPing(): Promise<void>;
}

export interface RawSocketOptions<M extends ServerMessage = ServerMessage> {
  /**
   * Whether to keep every message in `messages`. Off for floods whose messages are only counted
   * (`onMessage`), so that the client holds none of them when the heap is measured; `next` then
   * sees only the messages that arrive after it is called.
   * @default true
   */
  readonly keepMessages?: boolean;
  /** Called with each message as it arrives, and `send` to answer it (a `pong`, say). */
  readonly onMessage?: (message: M, send: (message: unknown) => void) => void;
}

/** Opens a socket to `url` offering `protocol` (`null`: none), resolving once it is open. */
export async function openRawSocket<M extends ServerMessage = ServerMessage>(
  url: string,
  protocol: string | null = 'graphql-transport-ws',
  options: RawSocketOptions<M> = {},
): Promise<RawSocket<M>> {
  const { keepMessages = true, onMessage } = options;
  const socket = protocol === null ? new WebSocket(url) : new WebSocket(url, protocol);
  const messages: M[] = [];
  const send = (message: unknown) =>
    socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  const waiters: { matches: (message: M) => boolean; resolve: (m: M) => void }[] = [];
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString('utf8')) as M;
    if (keepMessages) {
      messages.push(message);
    }
    onMessage?.(message, send);
    for (const waiter of [...waiters]) {
      if (waiter.matches(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  let closure: Closed | null = null;
  const closed = new Promise<Closed>((resolve) =>
    socket.on('close', (code, reason) => {
      closure = { code, reason: reason.toString('utf8') };
      resolve(closure);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const next = (matches: (message: M) => boolean) => {
    const seen = messages.find(matches);
    if (seen) {
      return Promise.resolve(seen);
    }
    return new Promise<M>((resolve, reject) => {
      waiters.push({ matches, resolve });
      void closed.then((close) =>
        reject(new Error(`closed (${close.code} ${close.reason}) before the message came`)),
      );
    });
  };
  return {
    messages,
    closed,
    get closure() {
      return closure;
    },
    isOpen: () => socket.readyState === WebSocket.OPEN,
    send,
    next,
    async init(token) {
      send({
        type: 'connection_init',
        payload: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
      await next((message) => message.type === 'connection_ack');
    },
    of: (id) => messages.filter((message) => message.id === id),
    subscribe: (id, query, variables = {}) =>
      send({ id, type: 'subscribe', payload: { query, variables } }),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    nextPing: () => new Promise<void>((resolve) => socket.once('ping', () => resolve())),
    async [Symbol.asyncDispose]() {
      if (socket.readyState !== WebSocket.CLOSED) {
        // A paused socket would never read the server's answering close frame.
        socket.resume();
        socket.close();
        await closed;
      }
    },
  };
}

/**
 * Opens a `graphql-transport-ws` socket to `url` and completes `connection_init` with `token`;
 * closes it again if the server refuses.
 */
export async function openAuthenticatedSocket<M extends ServerMessage = ServerMessage>(
  url: string,
  token: string,
  options: RawSocketOptions<M> = {},
): Promise<RawSocket<M>> {
  const socket = await openRawSocket<M>(url, 'graphql-transport-ws', options);
  try {
    await socket.init(token);
  } catch (error) {
    await socket[Symbol.asyncDispose]();
    throw error;
  }
  return socket;
}
