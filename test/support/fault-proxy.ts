/**
 * A fault-injecting HTTP proxy in front of the real homeserver, for resilience tests: it forwards
 * every request unchanged unless an injected fault matches it, and counts how many requests it
 * received and how many of those actually reached the homeserver.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startForwardingProxy } from '../../bench/lib/forwarding-proxy.ts';

/** The size of each chunk of a generated body (`huge-body`). */
const GENERATED_CHUNK_BYTES = 64 * 1024;

/** What the proxy does to a matching request instead of (or on top of) forwarding it. */
export type Fault =
  /** Wait `ms`, then forward, unless the client has given up by then. */
  | { kind: 'delay'; ms: number }
  /**
   * Answer 429 `M_LIMIT_EXCEEDED` without forwarding, with a `Retry-After` header and/or a
   * `retry_after_ms` body field, as given.
   */
  | { kind: 'rate-limit'; retryAfterSeconds?: number; retryAfterMs?: number }
  /**
   * Answer a non-JSON 502 or 503, as a reverse proxy would. With `afterForwarding`, the request
   * reaches the homeserver first and its answer is thrown away: the call took effect but the
   * client never hears so.
   */
  | { kind: 'status'; status: 502 | 503; afterForwarding?: boolean }
  /** Reset the connection without answering (`afterForwarding` as for `status`). */
  | { kind: 'reset'; afterForwarding?: boolean }
  /** Never answer, until {@link FaultProxy.release} forwards it or the client gives up. */
  | { kind: 'hold' }
  /** Answer 200 with a body that is not JSON. */
  | { kind: 'non-json' }
  /** Answer `status` (200 by default) with `body` as JSON, without forwarding. */
  | { kind: 'json'; body: unknown; status?: number }
  /**
   * Answer 200 with a valid JSON body of `bytes` bytes (whitespace, then `{}`), generated chunk
   * by chunk as the client reads, never held whole; with `declareLength`, announced in
   * `Content-Length` (else chunked). Stops writing when the client goes away.
   */
  | { kind: 'huge-body'; bytes: number; declareLength?: boolean }
  /**
   * Answer 200 headers at once, then one byte of body every `intervalMs`, never finishing, until
   * the client gives up: a homeserver that never pauses long enough for a body timeout.
   */
  | { kind: 'drip'; intervalMs: number };

/** Which requests a fault applies to; every given condition must hold. */
export interface FaultMatch {
  method?: string;
  /** Tested against the path and query. */
  path?: RegExp;
  /**
   * How many matching requests the fault applies to (`Infinity` for all of them).
   * @default 1
   */
  times?: number;
}

/** One request the proxy received, for tests that count or order requests of one kind. */
export interface ProxiedRequest {
  readonly method: string;
  /** Path and query, as received. */
  readonly url: string;
  /**
   * When it arrived, as a position in the proxy's own sequence of arrivals and endings (not a
   * clock): requests overlap when one arrived before the other ended.
   */
  readonly opened: number;
  /** When its exchange ended (answered, reset or abandoned), in the same sequence; `null` while open. */
  readonly closed: number | null;
  /** Bytes of body the proxy generated and wrote itself (`huge-body`, `drip`); 0 otherwise. */
  readonly generatedBytes: number;
}

export interface FaultProxy extends AsyncDisposable {
  /** The proxy's base URL, to use as the homeserver URL. */
  readonly url: string;
  /** Requests the proxy received. */
  readonly seen: number;
  /** Requests that reached the homeserver. */
  readonly requests: number;
  /** Requests held now, their clients still waiting. */
  readonly held: number;
  /** Every request received, in order of arrival. */
  readonly log: readonly ProxiedRequest[];
  /** Applies `fault` to the next matching requests; earlier injections match first. */
  inject(fault: Fault, match?: FaultMatch): void;
  /** Forwards every held request. */
  release(): void;
  /** Resets the connection of every held request instead: their clients see a broken connection. */
  resetHeld(): void;
  /** Drops every injected fault that has not been used up. */
  clear(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const closing = new AbortController();
  let rules: { fault: Fault; match: FaultMatch; remaining: number }[] = [];
  let held: { req: IncomingMessage; res: ServerResponse }[] = [];
  let seen = 0;
  let requests = 0;
  type LogEntry = { -readonly [K in keyof ProxiedRequest]: ProxiedRequest[K] };
  const log: LogEntry[] = [];
  let sequence = 0;

  const takeFault = (req: IncomingMessage): Fault | undefined => {
    const rule = rules.find(
      ({ match, remaining }) =>
        remaining > 0 &&
        (match.method === undefined || match.method === req.method) &&
        (match.path === undefined || match.path.test(req.url ?? '')),
    );
    if (rule !== undefined) {
      rule.remaining -= 1;
    }
    return rule?.fault;
  };

  /**
   * Sends the request on to the homeserver; `lose` replaces the homeserver's answer. (`proxy` is
   * set below, before the first request can arrive.)
   */
  const forward = (req: IncomingMessage, res: ServerResponse, lose?: () => void): void => {
    requests += 1;
    proxy.forward(req, res, lose === undefined ? {} : { lose });
  };

  /** Answers in the homeserver's place, reading (and dropping) the request body. */
  const answer = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    headers: Record<string, string>,
    body: string,
  ): void => {
    req.resume();
    res.writeHead(status, headers).end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    seen += 1;
    const entry: LogEntry = {
      method: req.method ?? '',
      url: req.url ?? '',
      opened: ++sequence,
      closed: null,
      generatedBytes: 0,
    };
    log.push(entry);
    res.on('close', () => {
      entry.closed = ++sequence;
    });
    const fault = takeFault(req);
    switch (fault?.kind) {
      case undefined:
        forward(req, res);
        return;
      case 'delay':
        await sleep(fault.ms, undefined, { signal: closing.signal }).catch(() => {});
        if (!req.socket.destroyed && !closing.signal.aborted) {
          forward(req, res);
        }
        return;
      case 'rate-limit': {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (fault.retryAfterSeconds !== undefined) {
          headers['retry-after'] = String(fault.retryAfterSeconds);
        }
        const body: Record<string, unknown> = {
          errcode: 'M_LIMIT_EXCEEDED',
          error: 'Too Many Requests',
        };
        if (fault.retryAfterMs !== undefined) {
          body['retry_after_ms'] = fault.retryAfterMs;
        }
        answer(req, res, 429, headers, JSON.stringify(body));
        return;
      }
      case 'status': {
        const { status } = fault;
        const reply = () =>
          answer(req, res, status, { 'content-type': 'text/html' }, `<html>${status}</html>`);
        if (fault.afterForwarding) {
          forward(req, res, reply);
        } else {
          reply();
        }
        return;
      }
      case 'reset':
        if (fault.afterForwarding) {
          forward(req, res, () => req.socket.resetAndDestroy());
        } else {
          req.socket.resetAndDestroy();
        }
        return;
      case 'hold': {
        const entry = { req, res };
        held.push(entry);
        res.on('close', () => {
          held = held.filter((other) => other !== entry);
        });
        return;
      }
      case 'non-json':
        answer(req, res, 200, { 'content-type': 'text/plain' }, 'this is not JSON');
        return;
      case 'json':
        answer(
          req,
          res,
          fault.status ?? 200,
          { 'content-type': 'application/json' },
          JSON.stringify(fault.body),
        );
        return;
      case 'huge-body':
        await writeHugeBody(req, res, fault.bytes, fault.declareLength === true, (bytes) => {
          entry.generatedBytes += bytes;
        });
        return;
      case 'drip': {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' });
        const timer = setInterval(() => {
          if (closing.signal.aborted) {
            res.destroy();
            return;
          }
          res.write(' ');
          entry.generatedBytes += 1;
        }, fault.intervalMs);
        res.on('close', () => clearInterval(timer));
        return;
      }
    }
  };

  const proxy = await startForwardingProxy(targetUrl, (req, res) => void handle(req, res));

  const close = async (): Promise<void> => {
    if (closing.signal.aborted) {
      return;
    }
    closing.abort();
    rules = [];
    held = [];
    await proxy.close();
  };

  return {
    url: proxy.url,
    get seen() {
      return seen;
    },
    get requests() {
      return requests;
    },
    inject(fault, match = {}) {
      rules.push({ fault, match, remaining: match.times ?? 1 });
    },
    get held() {
      return held.length;
    },
    log,
    release() {
      const waiting = held;
      held = [];
      for (const { req, res } of waiting) {
        forward(req, res);
      }
    },
    resetHeld() {
      const waiting = held;
      held = [];
      for (const { req } of waiting) {
        req.socket.resetAndDestroy();
      }
    },
    clear() {
      rules = [];
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Writes `bytes` bytes of valid JSON (spaces, then `{}`) a chunk at a time, waiting for the
 * client to drain each one: the body is never held whole, and writing stops as soon as the
 * client goes away.
 */
async function writeHugeBody(
  req: IncomingMessage,
  res: ServerResponse,
  bytes: number,
  declareLength: boolean,
  onWritten: (bytes: number) => void,
): Promise<void> {
  req.resume();
  res.writeHead(200, {
    'content-type': 'application/json',
    ...(declareLength ? { 'content-length': String(bytes) } : {}),
  });
  const padding = Buffer.alloc(GENERATED_CHUNK_BYTES, 0x20);
  let written = 0;
  while (written < bytes && !res.destroyed) {
    const size = Math.min(GENERATED_CHUNK_BYTES, bytes - written);
    const chunk =
      written + size === bytes
        ? Buffer.concat([padding.subarray(0, size - 2), Buffer.from('{}')])
        : padding.subarray(0, size);
    written += size;
    onWritten(size);
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done).on('close', done);
      });
    }
  }
  if (!res.destroyed) {
    res.end();
  }
}
