/**
 * An HTTP proxy in front of the homeserver that counts the requests it forwards per
 * `X-Request-Id`: the facade sends each GraphQL operation's request ID upstream with every call
 * that operation makes (src/matrix/http.ts), so a read sent with its own ID made exactly as many
 * upstream calls as the proxy counted under that ID, whatever else (a sync loop, other writes)
 * goes upstream at the same time.
 */
import {
  Agent,
  createServer,
  request as forwardRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RequestIdProxy extends AsyncDisposable {
  /** The proxy's base URL, to use as the homeserver URL. */
  readonly url: string;
  /** Requests forwarded so far, in all. */
  readonly requests: number;
  /** Requests forwarded so far that carried `X-Request-Id: requestId` (0 when none did). */
  callsOf(requestId: string): number;
  /** The endpoints (`GET /_matrix/client/v3/sync`) those requests went to, in order. */
  endpointsOf(requestId: string): readonly string[];
  /**
   * Told of each `GET …/sync` response body as it passes (with the request's URL), while set:
   * to see what the homeserver streamed to the facade.
   */
  syncObserver: ((url: string, body: string) => void) | null;
  close(): Promise<void>;
}

export async function startRequestIdProxy(targetUrl: string): Promise<RequestIdProxy> {
  const target = targetUrl.replace(/\/+$/, '');
  const targetHost = new URL(target).host;
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 256 });
  let requests = 0;
  const byRequestId = new Map<string, string[]>();
  let syncObserver: ((url: string, body: string) => void) | null = null;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    requests += 1;
    const requestId = req.headers['x-request-id'];
    if (typeof requestId === 'string') {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const endpoints = byRequestId.get(requestId) ?? [];
      endpoints.push(`${req.method ?? 'GET'} ${path}`);
      byRequestId.set(requestId, endpoints);
    }
    const upstream = forwardRequest(
      `${target}${req.url ?? '/'}`,
      { method: req.method, headers: { ...req.headers, host: targetHost }, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        const observer = syncObserver;
        if (observer && req.method === 'GET' && /\/sync(\?|$)/.test(req.url ?? '')) {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => observer(req.url ?? '', Buffer.concat(chunks).toString('utf8')));
        }
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
      }
      res.end(String(error));
    });
    req.pipe(upstream);
  };

  const server = createServer(handle);
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    agent.destroy();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    callsOf: (requestId) => byRequestId.get(requestId)?.length ?? 0,
    endpointsOf: (requestId) => byRequestId.get(requestId) ?? [],
    get syncObserver() {
      return syncObserver;
    },
    set syncObserver(value) {
      syncObserver = value;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
