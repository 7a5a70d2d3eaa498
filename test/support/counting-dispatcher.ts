/** An undici dispatcher that counts the requests it sends upstream, per method and path. */
import { Agent, type Dispatcher } from 'undici';

export interface CountingDispatcher extends AsyncDisposable {
  readonly dispatcher: Dispatcher;
  /** Every request sent, in order, as `METHOD /path` (query left out). */
  readonly requests: string[];
  /** How many requests matched `pattern` (all of them when absent). */
  count(pattern?: RegExp): number;
  reset(): void;
}

export function countingDispatcher(): CountingDispatcher {
  const requests: string[] = [];
  const agent = new Agent();
  const dispatcher = agent.compose((dispatch) => (options, handler) => {
    requests.push(`${options.method} ${options.path.split('?')[0]}`);
    return dispatch(options, handler);
  });
  return {
    dispatcher,
    requests,
    count: (pattern) =>
      pattern ? requests.filter((request) => pattern.test(request)).length : requests.length,
    reset: () => {
      requests.length = 0;
    },
    [Symbol.asyncDispose]: () => agent.close(),
  };
}
