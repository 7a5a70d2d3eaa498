/** Checks Relay connection arguments the same way for every connection in the schema. */
import { cursorToOffset, resolveArrayConnection } from '@pothos/plugin-relay';
import { facadeError } from './errors.ts';

/** The page size when a client asks for neither `first` nor `last`. */
export const DEFAULT_PAGE_SIZE = 20;
/** The largest page a client may ask for; more is a BAD_USER_INPUT error, not a silent cut. */
export const MAX_PAGE_SIZE = 100;

export interface ConnectionArgs {
  first?: number | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
  after?: string | null | undefined;
}

/**
 * Validates `first`/`last` (0 to {@link MAX_PAGE_SIZE}, not both) and returns the page size and
 * direction: `forward` for `first`/`after`, `backward` for `last`/`before`.
 */
export function pageRequest(args: ConnectionArgs): { size: number; backward: boolean } {
  for (const name of ['first', 'last'] as const) {
    const value = args[name];
    if (value !== null && value !== undefined && (value < 0 || value > MAX_PAGE_SIZE)) {
      throw facadeError(
        'BAD_USER_INPUT',
        `${name} must be between 0 and ${MAX_PAGE_SIZE}; ask for further pages with the cursors.`,
        { extensions: { field: name } },
      );
    }
  }
  if (args.first != null && args.last != null) {
    throw facadeError('BAD_USER_INPUT', 'Pass first or last, not both.');
  }
  if (args.after != null && args.before != null) {
    throw facadeError('BAD_USER_INPUT', 'Pass after or before, not both.');
  }
  if ((args.after != null && args.last != null) || (args.before != null && args.first != null)) {
    throw facadeError('BAD_USER_INPUT', 'Pair after with first and before with last.');
  }
  const backward = args.last != null || args.before != null;
  return { size: (backward ? args.last : args.first) ?? DEFAULT_PAGE_SIZE, backward };
}

/** The error for a cursor this server did not issue (or issued for another list). */
export function badCursor(field: 'after' | 'before'): Error {
  return facadeError(
    'BAD_USER_INPUT',
    `${field}: not a cursor from this list; use startCursor or endCursor of an earlier page.`,
    { extensions: { field } },
  );
}

/**
 * A Relay connection over a list already in memory (offset cursors, as the relay plugin makes
 * them), with the arguments checked first so a bad cursor or page size is BAD_USER_INPUT.
 */
export function arrayConnection<T extends object>(args: ConnectionArgs, items: readonly T[]) {
  pageRequest(args);
  for (const field of ['after', 'before'] as const) {
    const cursor = args[field];
    if (cursor != null) {
      let offset: number;
      try {
        offset = cursorToOffset(cursor);
      } catch {
        throw badCursor(field);
      }
      if (!Number.isInteger(offset) || offset < 0) {
        throw badCursor(field);
      }
    }
  }
  return resolveArrayConnection({ args, defaultSize: DEFAULT_PAGE_SIZE, maxSize: MAX_PAGE_SIZE }, [
    ...items,
  ]);
}
