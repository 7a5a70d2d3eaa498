/** What a Matrix identifier names, from its sigil. */
import { facadeError } from './errors.ts';

/**
 * The GraphQL type a node ID names: `!…` a Room, `@…` a User. An alias (`#…`) is no node ID: it
 * can move from room to room, and a node's `id` must be the ID it was fetched by.
 */
export function nodeIdType(id: string): 'Room' | 'User' {
  switch (id[0]) {
    case '!':
      return 'Room';
    case '@':
      return 'User';
    default:
      throw facadeError(
        'BAD_USER_INPUT',
        `"${id.slice(0, 64)}" is not a node ID: rooms start with "!" and users with "@" (for an alias, use roomByAlias). Events are not nodes: fetch them through their room.`,
      );
  }
}
