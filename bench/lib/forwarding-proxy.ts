/**
 * The forwarding core of the HTTP proxies put in front of the homeserver (the bench's counting
 * proxy, bench/lib/counting-proxy.ts, and the tests' fault proxy, test/support/fault-proxy.ts):
 * a loopback server on a free port whose handler decides, request by request, whether to send the
 * request on to the homeserver unchanged. What they count or inject stays in their own files.
 */
import {
  Agent,
  createServer,
  request as forwardRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** What becomes of the homeserver's answer to a forwarded request. */
export interface ForwardOptions {
  /**
   * Called with the answer once its headers have been passed on and before its body is: to read
   * the body alongside the client (attach `data` listeners here).
   */
  readonly observe?: (reply: IncomingMessage) => void;
  /**
   * Read and drop the answer instead of passing it on, then call this: the request took effect
   * on the homeserver but the client never hears so.
   */
  readonly lose?: () => void;
}

/**
 * Sends `req` on to the homeserver (same method, path, headers and body, `Host` rewritten) and,
 * unless told otherwise, its answer back through `res`.
 */
export type Forward = (req: IncomingMessage, res: ServerResponse, options?: ForwardOptions) => void;

export interface ForwardingProxy extends AsyncDisposable {
  /** The proxy's base URL, to use as the homeserver URL. */
  readonly url: string;
  /** Forwards a request the handler kept back (a held one) once it decides to. */
  readonly forward: Forward;
  /** Drops every open connection, on both sides; calling it again does nothing. */
  close(): Promise<void>;
}

/**
 * Listens on `127.0.0.1` on a free port and hands every request to `handle`, with a
 * {@link Forward} to the homeserver at `targetUrl`.
 */
export async function startForwardingProxy(
  targetUrl: string,
  handle: (req: IncomingMessage, res: ServerResponse, forward: Forward) => void,
): Promise<ForwardingProxy> {
  const target = targetUrl.replace(/\/+$/, '');
  const targetHost = new URL(target).host;
  // Its own agent: close() drops the kept-alive connections, and nothing limits how many run at
  // once (a thousand long-polls are a thousand connections).
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 1024 });

  const forward: Forward = (req, res, options = {}) => {
    const { observe, lose } = options;
    const upstream = forwardRequest(
      `${target}${req.url ?? '/'}`,
      { method: req.method, headers: { ...req.headers, host: targetHost }, agent },
      (reply) => {
        if (lose !== undefined) {
          reply.resume().on('end', lose);
          return;
        }
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        observe?.(reply);
        reply.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    // A client that gives up (an aborted long-poll) takes the forwarded request down with it.
    res.on('close', () => {
      if (!res.writableFinished) {
        upstream.destroy();
      }
    });
    req.pipe(upstream);
  };

  const server = createServer((req, res) => handle(req, res, forward));
  server.maxConnections = 100_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) {
      return;
    }
    closed = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    agent.destroy();
  };
  return { url: `http://127.0.0.1:${port}`, forward, close, [Symbol.asyncDispose]: close };
}
