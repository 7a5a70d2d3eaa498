/**
 * The endpoint template of an upstream path (`/_matrix/client/v3/rooms/{roomId}/messages`), for
 * metrics: a label must never carry a room, user or event ID, an alias, a transaction ID or a
 * token, and must come from a bounded set. Only the endpoints the facade calls are known; any
 * other path is {@link OTHER_ENDPOINT}.
 */

/** The label of a path no known endpoint matches. */
export const OTHER_ENDPOINT = 'other';

/**
 * Every endpoint the facade calls (src/matrix), with its parameters named as the spec names them.
 * A new endpoint module adds its path here, or its calls are counted as {@link OTHER_ENDPOINT}.
 */
const TEMPLATES = [
  '/_matrix/client/versions',
  '/_matrix/client/v3/account/whoami',
  '/_matrix/client/v3/account/password',
  '/_matrix/client/v3/account/3pid',
  '/_matrix/client/v3/devices',
  '/_matrix/client/v3/devices/{deviceId}',
  '/_matrix/client/v3/login',
  '/_matrix/client/v3/logout',
  '/_matrix/client/v3/register',
  '/_matrix/client/v3/register/available',
  '/_matrix/client/v3/profile/{userId}',
  '/_matrix/client/v3/profile/{userId}/displayname',
  '/_matrix/client/v3/profile/{userId}/avatar_url',
  '/_matrix/client/v3/profile/{userId}/{keyName}',
  '/_matrix/client/v3/user/{userId}/account_data/{type}',
  '/_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}',
  '/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags',
  '/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}',
  '/_matrix/client/v3/directory/room/{roomAlias}',
  '/_matrix/client/v3/directory/list/room/{roomId}',
  '/_matrix/client/v3/publicRooms',
  '/_matrix/client/v3/createRoom',
  '/_matrix/client/v3/joined_rooms',
  '/_matrix/client/v3/join/{roomIdOrAlias}',
  '/_matrix/client/v3/sync',
  '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync',
  '/_matrix/client/v3/rooms/{roomId}/aliases',
  '/_matrix/client/v3/rooms/{roomId}/messages',
  '/_matrix/client/v3/rooms/{roomId}/context/{eventId}',
  '/_matrix/client/v3/rooms/{roomId}/event/{eventId}',
  '/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}',
  '/_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}',
  '/_matrix/client/v3/rooms/{roomId}/state',
  '/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}',
  '/_matrix/client/v3/rooms/{roomId}/members',
  '/_matrix/client/v3/rooms/{roomId}/joined_members',
  '/_matrix/client/v3/rooms/{roomId}/invite',
  '/_matrix/client/v3/rooms/{roomId}/kick',
  '/_matrix/client/v3/rooms/{roomId}/ban',
  '/_matrix/client/v3/rooms/{roomId}/unban',
  '/_matrix/client/v3/rooms/{roomId}/leave',
  '/_matrix/client/v3/rooms/{roomId}/forget',
  '/_matrix/client/v3/rooms/{roomId}/read_markers',
  '/_matrix/client/v3/rooms/{roomId}/typing/{userId}',
  '/_synapse/admin/v1/users/{userId}/admin',
  '/_synapse/admin/v1/rooms/{roomId}',
  '/_synapse/admin/v2/rooms/{roomId}',
  '/_synapse/admin/v2/rooms/{roomId}/delete_status',
  '/_synapse/admin/v2/rooms/delete_status/{deleteId}',
] as const;

/** One step of the path trie: literal segments first, then a parameter. */
interface Node {
  readonly literals: Map<string, Node>;
  parameter: Node | null;
  template: string | null;
}

const newNode = (): Node => ({ literals: new Map(), parameter: null, template: null });

function buildTrie(templates: readonly string[]): Node {
  const root = newNode();
  for (const template of templates) {
    let node = root;
    for (const segment of template.split('/').slice(1)) {
      if (segment.startsWith('{')) {
        node.parameter ??= newNode();
        node = node.parameter;
      } else {
        let next = node.literals.get(segment);
        if (next === undefined) {
          next = newNode();
          node.literals.set(segment, next);
        }
        node = next;
      }
    }
    node.template = template;
  }
  return root;
}

const trie = buildTrie(TEMPLATES);

/**
 * The template of `path` (the encoded path a request names, without the homeserver's base path;
 * a query is ignored), or {@link OTHER_ENDPOINT}. A literal segment wins over a parameter
 * (`/v2/rooms/delete_status/{deleteId}` over `/v2/rooms/{roomId}`), and a parameter matches any
 * one segment, the empty state key included; nothing of the path itself is ever returned.
 */
export function endpointTemplate(path: string): string {
  const queryAt = path.indexOf('?');
  const end = queryAt === -1 ? path.length : queryAt;
  if (path.charCodeAt(0) !== 47 /* / */) {
    return OTHER_ENDPOINT;
  }
  return match(trie, path, 1, end) ?? OTHER_ENDPOINT;
}

/** Walks the segments of `path[start, end)` from `node`, backtracking from a literal to a parameter. */
function match(node: Node, path: string, start: number, end: number): string | null {
  if (start > end) {
    return node.template;
  }
  let slash = path.indexOf('/', start);
  if (slash === -1 || slash > end) {
    slash = end;
  }
  const next = slash + 1;
  const literal = node.literals.get(path.slice(start, slash));
  const found = literal === undefined ? null : match(literal, path, next, end);
  if (found !== null || node.parameter === null) {
    return found;
  }
  return match(node.parameter, path, next, end);
}
