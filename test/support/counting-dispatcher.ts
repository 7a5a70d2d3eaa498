/** An undici dispatcher that counts the requests it sends upstream, per method and path. */
import { Agent, type Dispatcher } from 'undici';

export interface CountingDispatcher extends AsyncDisposable {
  readonly dispatcher: Dispatcher;
  /** Every request sent, in order, as `METHOD /path` (query left out). */
  readonly requests: string[];
  /** How many requests matched `pattern` (all of them when absent). */
  count(pattern?: RegExp): number;
  /** The requests an operation sent: those carrying its `X-Request-Id`. */
  requestsOf(requestId: string): string[];
  reset(): void;
}

/** The `X-Request-Id` of a request's headers, in any of the shapes undici passes them. */
function requestIdOf(headers: unknown): string | null {
  if (Array.isArray(headers)) {
    for (let index = 0; index + 1 < headers.length; index += 2) {
      if (String(headers[index]).toLowerCase() === 'x-request-id') {
        return String(headers[index + 1]);
      }
    }
    return null;
  }
  if (typeof headers === 'object' && headers !== null) {
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() === 'x-request-id') {
        return String(value);
      }
    }
  }
  return null;
}

export function countingDispatcher(): CountingDispatcher {
  const requests: string[] = [];
  const byRequestId: { requestId: string | null; request: string }[] = [];
  const agent = new Agent();
  const dispatcher = agent.compose((dispatch) => (options, handler) => {
    const request = `${options.method} ${options.path.split('?')[0]}`;
    requests.push(request);
    byRequestId.push({ requestId: requestIdOf(options.headers), request });
    return dispatch(options, handler);
  });
  return {
    dispatcher,
    requests,
    count: (pattern) =>
      pattern ? requests.filter((request) => pattern.test(request)).length : requests.length,
    requestsOf: (requestId) =>
      byRequestId.filter((entry) => entry.requestId === requestId).map((entry) => entry.request),
    reset: () => {
      requests.length = 0;
      byRequestId.length = 0;
    },
    [Symbol.asyncDispose]: () => agent.close(),
  };
}
