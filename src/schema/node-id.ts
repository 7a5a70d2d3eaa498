/** What a Matrix identifier names, from its sigil. */
import { facadeError } from './errors.ts';

/** The GraphQL type a node ID names: `!…`/`#…` a Room, `@…` a User. */
export function nodeIdType(id: string): 'Room' | 'User' {
  switch (id[0]) {
    case '!':
    case '#':
      return 'Room';
    case '@':
      return 'User';
    default:
      throw facadeError(
        'BAD_USER_INPUT',
        `"${id.slice(0, 64)}" is not a node ID: rooms start with "!" (or "#" for an alias) and users with "@". Events are not nodes: fetch them through their room.`,
      );
  }
}
